/**
 * The room inspector page (docs/inspector.md): `/inspect/` lists the rooms, `?room=NAME`
 * shows one live. Everything arrives over Server-Sent Events; the page cannot write.
 */
import type { ClientInfo, RoomMode, SeriesPoint } from '../../../plugins/inspector/room-watch.js'
import type { RoomRow } from '../../../plugins/inspector/room-list.js'
import type { TreeNode } from '../../../plugins/inspector/tree.js'
import type { LogEntry } from '../../../plugins/inspector/log.js'
import { clientBadge, principals } from './badge.js'
import { Chart } from './chart.js'
import { $, bytes, h } from './dom.js'
import { LogView } from './log-view.js'
import { href, subscribe } from './stream.js'
import { TreeView } from './tree-view.js'
import { flagIcon } from './icons.js'

const params = new URLSearchParams(location.search)
const roomName = params.get('room')
;($('home') as HTMLAnchorElement).href = href({})

const setConn = (open: boolean) => {
  const el = $('conn')
  el.textContent = open ? 'live' : 'reconnecting…'
  el.className = `conn ${open ? 'open' : 'down'}`
}
const setNode = (node: string | null) => {
  $('node').textContent = node ? `node ${node}` : ''
}

/** Test and console hooks. */
declare global {
  interface Window {
    __inspector: { ready: boolean; events: number }
  }
}
window.__inspector = { ready: false, events: 0 }
const seen = <T>(fn: (data: T) => void) => (data: T) => {
  window.__inspector.events++
  fn(data)
}

if (roomName === null) showList()
else showRoom(roomName)

function showList(): void {
  $('list-view').hidden = false
  document.title = 'yroom inspector'
  const body = document.querySelector('#rooms tbody')!
  $('open-form').addEventListener('submit', (e) => {
    e.preventDefault()
    const name = ($('open-name') as HTMLInputElement).value.trim()
    if (name) location.href = href({ room: name })
  })
  subscribe(
    'rooms',
    {},
    {
      hello: seen((d: { node: string | null }) => setNode(d.node)),
      rooms: seen((rows: RoomRow[]) => {
        body.replaceChildren(
          ...rows.map((r) =>
            h(
              'tr',
              { 'data-room': r.name },
              h('td', {}, h('a', { href: href({ room: r.name }) }, r.name)),
              h('td', {}, h('span', { class: `where w-${r.where}` }, r.where === 'live' ? 'loaded here' : r.where === 'remote' ? 'on another node' : 'stored')),
              h('td', { class: 'num' }, r.clients === null ? '—' : String(r.clients)),
              h('td', { class: 'num' }, bytes(r.size)),
              h('td', { class: 'num' }, String(r.updatesPerSecond)),
            ),
          ),
        )
        $('rooms-empty').hidden = rows.length > 0
        window.__inspector.ready = true
      }),
    },
    setConn,
  )
}

function showRoom(name: string): void {
  $('room-view').hidden = false
  document.title = `${name} · yroom inspector`
  $('crumb').append(' / ', h('strong', {}, name))
  $('flag-legend').append(flagIcon('preventOwnershipTakeover', ''), ' preventOwnershipTakeover · ', flagIcon('destroyWhenOwnerOrLastClientLeaves', ''), ' destroyWhenOwnerOrLastClientLeaves')
  const tree = new TreeView($('tree'))
  const log = new LogView($('log'), $('log-filter') as HTMLInputElement, Array.from(document.querySelectorAll<HTMLInputElement>('.filters input[type=checkbox]')), (p) => tree.reveal(p))
  const chart = new Chart($('chart') as HTMLCanvasElement)
  const clientsBody = document.querySelector('#clients tbody')!
  let mode: RoomMode = 'stored'
  let gotTree = false
  const setMode = (m: RoomMode) => {
    mode = m
    const el = $('mode')
    el.textContent = m === 'live' ? 'live' : m === 'remote' ? 'served by another node: stored state, refreshed' : 'not loaded: stored state'
    el.className = `mode m-${m}`
    $('clients-note').textContent =
      m === 'live' ? '' : m === 'remote' ? 'Open the inspector on the node serving this room to see its clients and log.' : 'Nobody is connected: the room is not loaded.'
  }
  subscribe(
    'room',
    { name },
    {
      hello: seen((d: { node: string | null; mode: RoomMode }) => {
        setNode(d.node)
        setMode(d.mode)
      }),
      tree: seen((d: { tree: TreeNode[]; flash: boolean }) => {
        tree.render(d.tree, d.flash && gotTree)
        gotTree = true
        window.__inspector.ready = true
      }),
      clients: seen((list: ClientInfo[]) => {
        for (const c of list) for (const id of c.clientIDs) principals.set(id, c.principal)
        clientsBody.replaceChildren(
          ...list.map((c) =>
            h(
              'tr',
              { 'data-conn': c.conn },
              h('td', {}, ...(c.clientIDs.length > 0 ? c.clientIDs.map((id) => clientBadge(id)) : [clientBadge(null)])),
              h('td', { title: c.anonymous ? 'anonymous' : 'authenticated' }, c.principal),
              h('td', {}, c.node ?? 'this server'),
              h('td', {}, c.readOnly ? h('span', { class: 'ro' }, 'read-only') : 'read-write'),
              h('td', { class: 'num' }, String(c.updatesPerSecond)),
              h('td', { class: 'num' }, bytes(c.bytesPerSecond)),
              h('td', { class: `num${c.rejected > 0 ? ' bad' : ''}` }, String(c.rejected)),
            ),
          ),
        )
        if (mode === 'live' && list.length === 0) $('clients-note').textContent = 'No clients connected.'
        else if (mode === 'live') $('clients-note').textContent = ''
      }),
      series: seen((points: SeriesPoint[]) => chart.set(points)),
      stats: seen((p: SeriesPoint) => chart.add(p)),
      log: seen((entries: LogEntry[]) => log.add(entries)),
    },
    setConn,
  )
}
