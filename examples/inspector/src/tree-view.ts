/**
 * The model tree: every model with its owner badge, flags and collection kind, plain values
 * inline. Nodes that changed since the last snapshot flash.
 */
import type { TreeNode } from '../../../plugins/inspector/tree.js'
import { ownerBadge } from './badge.js'
import { h } from './dom.js'
import { flagIcon } from './icons.js'

/** What of a node, its children aside, is drawn: a change to it flashes the row. */
function signature(n: TreeNode): string {
  return JSON.stringify([n.t, n.v, n.owner, n.pt, n.dl, n.coll, n.c?.length ?? 0, n.more])
}

export class TreeView {
  private last = new Map<string, string>()
  private collapsed = new Set<string>()
  private tree: TreeNode[] = []

  constructor(private root: HTMLElement) {}

  render(tree: TreeNode[], flash: boolean): void {
    this.tree = tree
    const seen = new Map<string, string>()
    const list = h('ul', { class: 'nodes' })
    for (const n of tree) list.append(this.node(n, String(n.k), seen, flash))
    this.root.replaceChildren(list)
    if (tree.length === 0) this.root.append(h('p', { class: 'muted' }, 'The document is empty.'))
    this.last = seen
  }

  /** Scrolls to the node at `path` (or its nearest shown ancestor) and marks it. */
  reveal(path: string): void {
    let p = path
    for (;;) {
      const el = this.root.querySelector<HTMLElement>(`[data-path="${CSS.escape(p)}"]`)
      if (el) {
        el.scrollIntoView({ block: 'center' })
        el.classList.remove('target')
        void el.offsetWidth
        el.classList.add('target')
        return
      }
      const cut = p.lastIndexOf('/')
      if (cut === -1) return
      p = p.slice(0, cut)
    }
  }

  private node(n: TreeNode, path: string, seen: Map<string, string>, flash: boolean): HTMLElement {
    const sig = signature(n)
    seen.set(path, sig)
    const changed = flash && this.last.get(path) !== sig
    const row = h('div', { class: `row t-${n.t}${changed ? ' flash' : ''}`, 'data-path': path }, h('span', { class: 'key' }, String(n.k)))
    if (n.t === 'model') {
      row.append(ownerBadge(n.owner))
      if (n.pt) row.append(flagIcon('preventOwnershipTakeover', 'only its owner may take it over or release it'))
      if (n.dl) row.append(flagIcon('destroyWhenOwnerOrLastClientLeaves', 'removed when its owner (or, unowned, the last client) leaves'))
      if (n.coll) row.append(h('span', { class: `coll coll-${n.coll}`, title: `a ${n.coll} collection` }, n.coll))
    } else if (n.t !== 'value') {
      row.append(h('span', { class: 'kind' }, n.t === 'map' ? 'Y.Map' : n.t === 'array' ? `Y.Array[${(n.c?.length ?? 0) + (n.more ?? 0)}]` : n.t === 'text' ? 'Y.Text' : 'Y.Xml'))
    }
    if (n.v !== undefined) row.append(h('span', { class: 'value' }, typeof n.v === 'string' ? JSON.stringify(n.v) : JSON.stringify(n.v) ?? String(n.v)))
    const li = h('li', {}, row)
    if (n.c && n.c.length > 0) {
      const open = !this.collapsed.has(path)
      const toggle = h('button', { class: 'toggle', title: open ? 'collapse' : 'expand' }, open ? '▾' : '▸')
      toggle.addEventListener('click', () => {
        if (this.collapsed.has(path)) this.collapsed.delete(path)
        else this.collapsed.add(path)
        this.render(this.tree, false)
      })
      row.prepend(toggle)
      if (open) {
        const ul = h('ul', { class: 'nodes' })
        for (const c of n.c) ul.append(this.node(c, `${path}/${c.k}`, seen, flash))
        if (n.more) ul.append(h('li', { class: 'muted' }, `… ${n.more} more not shown`))
        li.append(ul)
      } else {
        for (const c of n.c) markSeen(c, `${path}/${c.k}`, seen)
      }
    } else {
      row.prepend(h('span', { class: 'toggle-space' }))
    }
    return li
  }
}

/** Collapsed nodes keep their signatures: expanding them later does not flash them. */
function markSeen(n: TreeNode, path: string, seen: Map<string, string>): void {
  seen.set(path, signature(n))
  for (const c of n.c ?? []) markSeen(c, `${path}/${c.k}`, seen)
}
