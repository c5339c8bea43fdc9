/**
 * The yroom whiteboard: one room per `?room=` name, shapes as persistent models, cursors
 * and presence as models owned by each tab, locks as ownership, undo of our own edits.
 */
import { connect, type ConnectOptions, type StatusEvent } from '../../../src/index.js'
import { shapeEntries, type App } from './app.js'
import { identity } from './identity.js'
import { login } from './login.js'
import { attachInput } from './input.js'
import { Board, Peer } from './models.js'
import { watchRejections, type NoticeRecord } from './rejections.js'
import { Renderer } from './render.js'
import { bindKeys, bindToolbar, createNotifier, renderBanner, renderChrome } from './ui.js'
import { createUndoManager } from './undo.js'
import { counterActions, createVotes, type VoteWidget } from './votes.js'

const params = new URLSearchParams(location.search)
const roomName = params.get('room') || 'lobby'
if (!params.get('room')) {
  params.set('room', roomName)
  history.replaceState(null, '', `?${params}`) // the address bar shows a shareable room link
}
// A server started with --jwt-secret wants a token: the demo login signs one for this
// tab's name (the name shown beside its cursor); else the whiteboard connects anonymously.
const token = await login(identity(params).name)
// `actions` is read by SDK versions with actions support (SPEC §8) and ignored before.
const options: ConnectOptions<typeof Board> & { actions?: unknown[] } = {
  url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}`,
  room: roomName,
  model: Board,
  actions: [counterActions],
  token,
}
const room = connect(options)
// The cursor's colour follows the client id, as the room inspector's owner badges do.
const who = identity(params, room.clientID)

let scheduled = false
const app: App = {
  room,
  board: room.datastore.root,
  me: null,
  name: who.name,
  tool: 'pen',
  color: who.color,
  selected: null,
  draft: null,
  undo: null,
  render() {
    if (scheduled) return
    scheduled = true
    // rAF paints in step with the screen; the timeout keeps hidden tabs (no rAF) current.
    const run = () => {
      if (!scheduled) return
      scheduled = false
      renderer.render()
      renderChrome(app)
    }
    requestAnimationFrame(run)
    setTimeout(run, 100)
  },
  notify: createNotifier(),
}

const svg = document.getElementById('board') as unknown as SVGSVGElement
const layer = (id: string) => svg.getElementById(id) as SVGGElement
const renderer = new Renderer(app, { shapes: layer('shapes'), overlay: layer('overlay'), cursors: layer('cursors') })
const notices: NoticeRecord[] = []
let votes: VoteWidget | null = null

room.doc.on('afterTransaction', () => app.render())
let lastStatus: StatusEvent | null = null
room.on('status', (e) => {
  lastStatus = e
  renderBanner(app, e)
})
watchRejections(app, notices)
bindToolbar(app)
bindKeys(app)
attachInput(app, svg)
renderBanner(app, null)

/**
 * Our presence model: owned by this tab and destroyed by the server when the tab leaves.
 * After a reconnect the server has removed it (we left), so it is created again.
 */
function ensurePresence(): void {
  if (app.me && !app.me.isDeleted) return
  app.me = room.datastore.instantiate(Peer, {
    in: app.board.peers,
    ownedByClient: true,
    destroyWhenOwnerOrLastClientLeaves: true,
    init: { name: who.name, color: who.color },
  })
}

// If the server removes our presence while we are connected (it judged that we had left,
// e.g. an old socket of ours closed late), come back at once.
app.board.peers.on('modelRemoved', (e) => {
  if (e.model === app.me && room.synced) ensurePresence()
})

room.on('synced', () => {
  ensurePresence()
  app.undo ??= createUndoManager(app)
  if (!votes) {
    const button = document.getElementById('vote') as HTMLButtonElement
    votes = createVotes(room, (total, mode) => {
      button.querySelector('.count')!.textContent = String(total)
      button.dataset.mode = mode
      button.title = mode === 'actions' ? 'votes are counted by a server action' : 'each tab counts its own votes; the total is their sum'
    })
    button.addEventListener('click', () => votes?.vote())
  }
  renderBanner(app, lastStatus)
  app.render()
})

/** Test and console hooks: `__wb.shapes()`, `__wb.room`, ... */
declare global {
  interface Window {
    __wb: unknown
  }
}
window.__wb = {
  room,
  app,
  notices,
  get ready() {
    return room.synced && app.me !== null && !app.me.isDeleted && app.undo !== null
  },
  get votes() {
    return votes?.total() ?? 0
  },
  shapes: () =>
    shapeEntries(app).map(([key, s]) => ({ key, kind: s.kind, x: s.x, y: s.y, w: s.w, h: s.h, points: s.points.length / 2, owner: s.ownerIDSelf })),
  peers: () => [...app.board.peers].map((p) => ({ client: p.ownerIDSelf, name: p.name, x: p.x, y: p.y })),
}
