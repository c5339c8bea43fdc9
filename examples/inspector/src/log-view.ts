/** The room's log: rejections (path, reason, who), actions (name, result), owners, joins; filterable. */
import type { LogEntry } from '../../../plugins/inspector/log.js'
import { clientBadge, ownerBadge } from './badge.js'
import { h, pathText, time } from './dom.js'

const MAX_SHOWN = 500

export class LogView {
  private entries: LogEntry[] = []
  private text = ''
  private kinds = new Set(['rejection', 'action', 'owner', 'join', 'leave'])

  constructor(
    private list: HTMLElement,
    filter: HTMLInputElement,
    toggles: HTMLInputElement[],
    private reveal: (path: string) => void,
  ) {
    filter.addEventListener('input', () => {
      this.text = filter.value.trim().toLowerCase()
      this.redraw()
    })
    for (const t of toggles) {
      t.addEventListener('change', () => {
        const kinds = t.dataset.kind === 'join' ? ['join', 'leave'] : [t.dataset.kind!]
        for (const k of kinds) {
          if (t.checked) this.kinds.add(k)
          else this.kinds.delete(k)
        }
        this.redraw()
      })
    }
  }

  add(entries: LogEntry[]): void {
    this.entries.push(...entries)
    if (this.entries.length > MAX_SHOWN) this.entries.splice(0, this.entries.length - MAX_SHOWN)
    for (const e of entries) if (this.shown(e)) this.list.prepend(this.row(e))
    while (this.list.childElementCount > MAX_SHOWN) this.list.lastElementChild!.remove()
  }

  private redraw(): void {
    this.list.replaceChildren(...this.entries.filter((e) => this.shown(e)).reverse().map((e) => this.row(e)))
  }

  private shown(e: LogEntry): boolean {
    return this.kinds.has(e.kind) && (this.text === '' || JSON.stringify(e).toLowerCase().includes(this.text))
  }

  private row(e: LogEntry): HTMLElement {
    const li = h('li', { class: `entry k-${e.kind}`, 'data-kind': e.kind }, h('time', {}, time(e.t)), h('span', { class: 'kindchip' }, e.kind))
    const path = (p: string) => {
      const a = h('a', { class: 'path', href: '#', title: 'show in the tree', 'data-path': p }, p)
      a.addEventListener('click', (ev) => {
        ev.preventDefault()
        this.reveal(p)
      })
      return a
    }
    switch (e.kind) {
      case 'rejection':
        li.append(
          path(pathText(e.path)),
          h('code', { class: 'reason', title: e.message }, e.reason),
          h(
            'div',
            { class: 'details' },
            h('span', { class: 'who' }, 'by ', clientBadge(e.clientID), ` ${e.principal}`),
            e.owner ? h('span', { class: 'owned' }, path(e.owner.path), ' is owned by ', ownerBadge(e.owner.ownerID)) : '',
            h('span', { class: 'message' }, e.message),
          ),
        )
        break
      case 'action':
        li.append(
          h('code', { class: 'action' }, e.action),
          path(pathText(e.path)),
          h('span', { class: e.result === 'applied' ? 'ok' : 'reason' }, e.result),
          e.message ? h('span', { class: 'message' }, e.message) : '',
          h('span', { class: 'who' }, e.principal ? `by ${e.principal}` : 'by the backend'),
        )
        break
      case 'owner':
        li.append(path(e.path), ownerBadge(e.from), ' → ', ownerBadge(e.to))
        break
      case 'join':
      case 'leave':
        li.append(clientBadge(e.clientID), h('span', { class: 'who' }, `${e.principal} (connection ${e.conn}) ${e.kind === 'join' ? 'joined' : 'left'}`))
        break
    }
    return li
  }
}
