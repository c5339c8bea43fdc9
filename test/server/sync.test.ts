/** Basic sync over the stock y-websocket protocol: convergence, late joiners, awareness. */
import { isDeepStrictEqual } from 'node:util'
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import * as awarenessProtocol from 'y-protocols/awareness'
import * as encoding from 'lib0/encoding'
import { MESSAGE_AWARENESS, MESSAGE_QUERY_AWARENESS } from '../../src/shared/protocol/message-types.js'
import { providerPool, RawClient, startServer, until, type TestServer } from '../helpers.js'

let s: TestServer
const pool = providerPool(() => s.url)
const join = pool.join
afterEach(async () => {
  pool.destroyAll()
  await s?.close()
})

describe('sync', () => {
  it('two stock clients converge on concurrent edits to map, array and text', async () => {
    s = await startServer()
    const a = await join('converge')
    const b = await join('converge')
    a.doc.transact(() => {
      a.doc.getMap('m').set('a', 1)
      a.doc.getArray('list').push(['from-a'])
      a.doc.getText('t').insert(0, 'hello ')
    })
    b.doc.transact(() => {
      b.doc.getMap('m').set('b', 2)
      b.doc.getArray('list').push(['from-b'])
      b.doc.getText('t').insert(0, 'world')
    })
    const view = (d: Y.Doc) => ({ m: d.getMap('m').toJSON(), list: d.getArray('list').toJSON(), t: d.getText('t').toString() })
    const done = () => a.doc.getArray('list').length === 2 && b.doc.getArray('list').length === 2
    await until(() => done() && isDeepStrictEqual(view(a.doc), view(b.doc)), { message: 'convergence' })
    expect(a.doc.getMap('m').toJSON()).toEqual({ a: 1, b: 2 })
    expect(a.doc.getText('t').length).toBe('hello world'.length)
    // The room's own document is the same state.
    const room = s.server.rooms.get('converge')!
    expect(view(room.doc)).toEqual(view(a.doc))
    expect(Y.encodeStateVector(room.doc)).toEqual(Y.encodeStateVector(a.doc))
  })

  it('a late joiner receives the full state', async () => {
    s = await startServer()
    const a = await join('late')
    for (let i = 0; i < 20; i++) a.doc.getArray<number>('n').push([i])
    a.doc.getText('t').insert(0, 'persisted text')
    const b = await join('late')
    // Wait until the server holds everything a wrote, then a third client joins.
    await until(() => b.doc.getArray('n').length === 20 && b.doc.getText('t').toString() === 'persisted text')
    a.destroy()
    const c = await join('late')
    // `sync` on a stock provider means: the server's step 2 (its whole state) was applied.
    expect(c.doc.getArray('n').toArray()).toEqual([...Array(20).keys()])
    expect(c.doc.getText('t').toString()).toBe('persisted text')
  })

  it('rooms are isolated from each other', async () => {
    s = await startServer()
    const a = await join('iso-1')
    const b = await join('iso-2')
    const a2 = await join('iso-1')
    a.doc.getMap('m').set('x', 'only in iso-1')
    await until(() => a2.doc.getMap('m').get('x') === 'only in iso-1')
    expect(b.doc.getMap('m').size).toBe(0)
    expect(s.server.rooms.get('iso-2')!.doc.getMap('m').size).toBe(0)
  })

  it('awareness propagates and is removed when its connection closes', async () => {
    s = await startServer()
    const a = await join('aw')
    const b = await join('aw')
    a.provider.awareness.setLocalStateField('user', { name: 'alice' })
    const aId = a.doc.clientID
    await until(() => (b.provider.awareness.getStates().get(aId) as { user?: { name: string } } | undefined)?.user?.name === 'alice', {
      message: 'awareness propagated',
    })
    // destroy() closes the socket without announcing the removal: the server must do it.
    a.destroy()
    await until(() => !b.provider.awareness.getStates().has(aId), { message: 'awareness removed' })
    await until(() => !s.server.rooms.get('aw')!.awareness.getStates().has(aId), { message: 'server awareness removed' })
  })

  it('awareness of an abruptly terminated raw client is removed', async () => {
    s = await startServer()
    const b = await join('aw-raw')
    const raw = await new RawClient(s.url, 'aw-raw').sync()
    const aw = new awarenessProtocol.Awareness(raw.doc)
    aw.setLocalState({ cursor: 3 })
    raw.sendAwareness(aw, [raw.doc.clientID])
    await until(() => b.provider.awareness.getStates().has(raw.doc.clientID), { message: 'raw awareness seen' })
    raw.ws.terminate()
    await until(() => !b.provider.awareness.getStates().has(raw.doc.clientID), { message: 'raw awareness removed' })
    aw.destroy()
  })

  it('a late joiner receives current awareness, and query-awareness is answered', async () => {
    s = await startServer()
    const a = await join('aw-late')
    a.provider.awareness.setLocalStateField('user', 'alice')
    await until(() => s.server.rooms.get('aw-late')!.awareness.getStates().has(a.doc.clientID))
    const b = await join('aw-late')
    await until(() => b.provider.awareness.getStates().has(a.doc.clientID), { message: 'late joiner awareness' })

    const raw = await new RawClient(s.url, 'aw-late').sync()
    const before = raw.framesOfType(MESSAGE_AWARENESS).length
    const enc = encoding.createEncoder()
    encoding.writeVarUint(enc, MESSAGE_QUERY_AWARENESS)
    raw.send(encoding.toUint8Array(enc))
    await until(() => raw.framesOfType(MESSAGE_AWARENESS).length > before, { message: 'query-awareness answer' })
    await raw.close()
  })
})
