/** Test page for the SDK's offline persistence in a real browser (IndexedDB via y-indexeddb). */
import * as Y from 'yjs'
import { IndexeddbPersistence } from 'y-indexeddb'
import { connect } from '../../../src/index.js'

const params = new URLSearchParams(location.search)
const name = params.get('room')!
const room = connect({ url: params.get('ws')!, room: name, offline: { persistence: IndexeddbPersistence } })

/** What a fresh load of the stored database holds (proves the write reached IndexedDB). */
async function storedNotes(): Promise<unknown> {
  const doc = new Y.Doc()
  const p = new IndexeddbPersistence(`yroom:${name}`, doc)
  await p.whenSynced
  const notes = doc.getMap('notes').toJSON()
  await p.destroy()
  return notes
}

Object.assign(window, { __offline: { room, notes: room.doc.getMap('notes'), storedNotes } })
