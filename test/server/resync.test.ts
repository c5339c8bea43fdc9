/**
 * Updates whose dependencies the server lacks: none of it is applied (or later integrated
 * under someone else's update); the author is asked to resync with a sync step 1.
 */
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import * as decoding from 'lib0/decoding'
import * as syncProtocol from 'y-protocols/sync'
import { MESSAGE_SYNC } from '../../src/shared/protocol/message-types.js'
import { connectProvider, RawClient, startServer, until, type TestServer } from '../helpers.js'

let s: TestServer
const clients: Array<{ destroy(): void }> = []
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy()
  await s?.close()
})

function syncStep1Frames(c: RawClient): number {
  return c.framesOfType(MESSAGE_SYNC).filter((f) => {
    const d = decoding.createDecoder(f)
    decoding.readVarUint(d)
    return decoding.readVarUint(d) === syncProtocol.messageYjsSyncStep1
  }).length
}

/** Two updates of one doc; the second depends on the first. */
function dependentPair(): { first: Uint8Array; second: Uint8Array } {
  const d = new Y.Doc()
  const sv0 = Y.encodeStateVector(d)
  d.getArray('a').push(['first'])
  const first = Y.encodeStateAsUpdate(d, sv0)
  const sv1 = Y.encodeStateVector(d)
  d.getArray('a').push(['second'])
  return { first, second: Y.encodeStateAsUpdate(d, sv1) }
}

describe('missing dependencies', () => {
  it('update #2 without #1: nothing applied, nothing stored or broadcast, the sender is asked to resync', async () => {
    s = await startServer({ tickMs: 10 })
    const watcher = await connectProvider(s.url, 'deps')
    clients.push(watcher)
    const sender = await new RawClient(s.url, 'deps').sync()
    clients.push({ destroy: () => sender.ws.terminate() })
    const step1Before = syncStep1Frames(sender)
    const { first, second } = dependentPair()
    sender.sendUpdate(second)
    await until(() => syncStep1Frames(sender) > step1Before, { message: 'server asks for a resync' })
    const room = s.server.rooms.get('deps')!
    expect(room.doc.getArray('a').length).toBe(0)
    expect(room.doc.store.pendingStructs).toBe(null)
    expect(sender.closeCode).toBe(null) // a resync request, not an error

    // #1 arrives from someone else: the server integrates #1 only; the dropped #2 does not
    // come back attributed to this other connection.
    const other = await new RawClient(s.url, 'deps').sync()
    clients.push({ destroy: () => other.ws.terminate() })
    other.sendUpdate(first)
    await until(() => watcher.doc.getArray('a').length === 1, { message: '#1 delivered' })
    expect(room.doc.getArray('a').toArray()).toEqual(['first'])
    await room.flush()
    const stored = await s.server.storage.load('deps')
    const d = new Y.Doc()
    Y.applyUpdate(d, Y.mergeUpdates(stored.updates))
    expect(d.getArray('a').toArray()).toEqual(['first'])
    expect(watcher.doc.getArray('a').toArray()).toEqual(['first'])
  })

  it('a stock provider that sent an update with missing dependencies resyncs and everyone converges', async () => {
    s = await startServer({ tickMs: 10 })
    const author = await connectProvider(s.url, 'deps-provider')
    const watcher = await connectProvider(s.url, 'deps-provider')
    clients.push(author, watcher)
    const room = s.server.rooms.get('deps-provider')!
    // The room never holds 'second' without 'first' before it.
    const orderViolations: string[] = []
    room.doc.getArray('a').observe(() => {
      const items = room.doc.getArray('a').toArray()
      if (items.includes('second') && items.indexOf('first') !== 0) orderViolations.push(JSON.stringify(items))
    })
    // Give the author content from another client without sending it (origin = provider:
    // the provider treats it as received from the server), then edit on top of it.
    const other = new Y.Doc()
    other.getArray('a').push(['first'])
    Y.applyUpdate(author.doc, Y.encodeStateAsUpdate(other), author.provider)
    author.doc.getArray('a').push(['second']) // depends on 'first', which the server lacks
    await until(() => watcher.doc.getArray('a').length === 2, { message: 'converged after resync' })
    expect(watcher.doc.getArray('a').toArray()).toEqual(['first', 'second'])
    expect(room.doc.getArray('a').toArray()).toEqual(['first', 'second'])
    expect(orderViolations).toEqual([])
  })

  it('a deletion of content the server lacks is not kept to be applied later', async () => {
    s = await startServer({ tickMs: 10 })
    const d = new Y.Doc()
    d.getArray('a').push(['first'])
    const first = Y.encodeStateAsUpdate(d)
    const sv = Y.encodeStateVector(d)
    d.getArray('a').delete(0, 1)
    const deletion = Y.encodeStateAsUpdate(d, sv) // a delete set only
    const sender = await new RawClient(s.url, 'deps-ds').sync()
    clients.push({ destroy: () => sender.ws.terminate() })
    const step1Before = syncStep1Frames(sender)
    sender.sendUpdate(deletion)
    await until(() => syncStep1Frames(sender) > step1Before, { message: 'server asks for a resync' })
    const room = s.server.rooms.get('deps-ds')!
    expect(room.doc.store.pendingDs).toBe(null)
    const other = await new RawClient(s.url, 'deps-ds').sync()
    clients.push({ destroy: () => other.ws.terminate() })
    other.sendUpdate(first)
    await until(() => room.doc.getArray('a').length === 1, { message: '#1 applied' })
    await room.flush()
    expect(room.doc.getArray('a').toArray()).toEqual(['first'])
  })
})
