/**
 * The yroom editor: one document per room (`#name` in the URL), made of sections; each
 * section is a model with its own Y.Text and CodeMirror view, and can be locked (owned).
 * Remote cursors, undo and offline editing come from y-codemirror.next, Yjs and the SDK.
 */
import * as Y from 'yjs'
import { IndexeddbPersistence } from 'y-indexeddb'
import { connect, type StatusEvent } from '../../../src/index.js'
import type { App } from './app.js'
import { docNameFromLocation, ROOM_PREFIX } from './doc-name.js'
import { openDocumentList, renderDocumentList } from './documents.js'
import { editorUser } from './identity.js'
import { EditorDoc } from './models.js'
import { createNotifier } from './notice.js'
import { publishPresence } from './presence.js'
import { watchRejections, type NoticeRecord } from './rejections.js'
import { SectionList } from './sections.js'
import { renderStatus } from './status.js'

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T
const params = new URLSearchParams(location.search)
const docName = docNameFromLocation()
const user = editorUser(params)
const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}`

// IndexedDB keeps the document (and edits not yet sent) across reloads while offline;
// in memory, the SDK already keeps them across reconnects.
const room = connect({ url, room: ROOM_PREFIX + docName, model: EditorDoc, offline: { persistence: IndexeddbPersistence } })
const app: App = { room, doc: room.datastore.root, docName, user, notify: createNotifier($('notice')) }
const list = new SectionList(app, $('sections'))
const notices: NoticeRecord[] = []

// Views follow the document: every transaction (ours, remote, rollbacks) may add a section
// or change a lock. Batched per frame; the timeout keeps hidden tabs (no rAF) current.
let scheduled = false
function schedule(): void {
  if (scheduled) return
  scheduled = true
  const run = () => {
    if (!scheduled) return
    scheduled = false
    list.sync()
  }
  requestAnimationFrame(run)
  setTimeout(run, 100)
}
room.doc.on('afterTransaction', schedule)
room.awareness.on('change', schedule) // lock badges name the owner from awareness

let lastStatus: StatusEvent | null = null
const statusLog: string[] = []
room.on('status', (e) => {
  lastStatus = e
  statusLog.push(e.code ? `${e.status} ${e.code}` : e.status)
  renderStatus(room, $('status'), $('status-hint'), e)
})
room.on('synced', () => {
  renderStatus(room, $('status'), $('status-hint'), lastStatus)
  // A new document gets its first section from whoever opens it first. Two first openers
  // at once each add one; the document then simply starts with two sections.
  if (app.doc.sections.size === 0) list.add()
  list.sync()
})
renderStatus(room, $('status'), $('status-hint'), null)
watchRejections(app, notices)
publishPresence(app, user, $('people-list'))
$('add-section').addEventListener('click', () => list.add())
$('doc-name').textContent = docName
$('me').textContent = `${user.name} · client ${room.clientID}`
document.title = `${docName} · yroom editor`

const documents = openDocumentList(url, docName, (names) => renderDocumentList($('docs'), names, docName))
$<HTMLFormElement>('new-doc').addEventListener('submit', async (e) => {
  e.preventDefault()
  const input = $<HTMLInputElement>('new-doc-name')
  const name = await documents.create(input.value)
  if (name === null) app.notify(`“${input.value}” exists already or is not a usable name.`, 'warn')
  else location.hash = name
})
// One room per page load: see documents.ts.
window.addEventListener('hashchange', () => location.reload())

/** Test and console hooks: `__editor.sections()`, `__editor.room`, ... */
declare global {
  interface Window {
    __editor: unknown
  }
}
window.__editor = {
  room,
  app,
  notices,
  docName,
  get ready() {
    const n = app.doc.sections.size
    return room.synced && n > 0 && list.ordered().length === n
  },
  get clientID() {
    return room.clientID
  },
  get status() {
    return room.synced ? 'synced' : room.status
  },
  sections: () =>
    list.ordered().map((v) => ({
      key: v.key,
      text: v.section.text.toString(),
      shown: v.view.state.doc.toString(),
      owner: v.section.ownerIDSelf,
      locked: v.section.preventOwnershipTakeover,
      undo: v.undo.undoStack.length,
      redo: v.undo.redoStack.length,
    })),
  text: (i: number) => list.ordered()[i]?.section.text.toString(),
  view: (i: number) => list.ordered()[i]?.view,
  documents: () => documents.names(),
  statusLog,
  stateVector: () => Object.fromEntries(Y.decodeStateVector(Y.encodeStateVector(room.doc))),
}
