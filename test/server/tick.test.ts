/** Tick-batched fan-out: one merged sync-update message per connection per tick. */
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import * as decoding from 'lib0/decoding'
import * as syncProtocol from 'y-protocols/sync'
import * as awarenessProtocol from 'y-protocols/awareness'
import { MESSAGE_AWARENESS, MESSAGE_SYNC } from '../../src/shared/protocol/message-types.js'
import { MemoryStorage } from '../../server/index.js'
import { RawClient, startServer, until, type TestServer } from '../helpers.js'

let s: TestServer
const raws: RawClient[] = []
afterEach(async () => {
  for (const r of raws.splice(0)) r.ws.terminate()
  await s?.close()
})

/** Sync-update frames (message 0, sync type 2) a raw client has received. */
function updateFrames(c: RawClient): Uint8Array[] {
  return c.framesOfType(MESSAGE_SYNC).filter((f) => {
    const d = decoding.createDecoder(f)
    decoding.readVarUint(d)
    return decoding.readVarUint(d) === syncProtocol.messageYjsUpdate
  })
}

async function raw(room: string): Promise<RawClient> {
  const c = await new RawClient(s.url, room).sync()
  raws.push(c)
  return c
}

/** A storage that counts appends: one append is one tick that had updates. */
class CountingStorage extends MemoryStorage {
  appends = 0
  override async append(room: string, updates: Uint8Array[]): Promise<number> {
    this.appends++
    return super.append(room, updates)
  }
}

describe('tick batching', () => {
  it('several writers in one tick: each reader gets exactly one message with all writes', async () => {
    // A tick too long to fire during the test; the test ends the tick by hand once the
    // server has applied every write, so "one tick" is exact, not a timing guess.
    const storage = new CountingStorage()
    s = await startServer({ tickMs: 60_000, adaptiveTick: false, storage })
    const readers = [await raw('batch'), await raw('batch')]
    const writers = [await raw('batch'), await raw('batch'), await raw('batch')]
    const received = () => s!.server.metrics.updatesIn.value
    const before = received()
    writers.forEach((w, i) => {
      for (let k = 0; k < 5; k++) w.doc.getMap('m').set(`w${i}-${k}`, k)
    })
    const room = s.server.rooms.get('batch')!
    await until(() => received() === before + 15, { message: 'server received all writes' })
    expect(readers.map((r) => updateFrames(r).length)).toEqual([0, 0]) // nothing before the tick
    await room.flush()
    expect(room.doc.getMap('m').size).toBe(15) // the tick applied them all
    for (const c of [...readers, ...writers]) {
      await until(() => c.doc.getMap('m').size === 15, { message: 'tick delivered' })
      // One message per connection for the tick, writers included (several contributed).
      expect(updateFrames(c).length).toBe(1)
    }
    expect(storage.appends).toBe(1) // the tick's writes went to storage in one batch
  })

  it('with a running tick timer, messages per reader equal ticks, fewer than writes', async () => {
    const storage = new CountingStorage()
    s = await startServer({ tickMs: 100, storage })
    const reader = await raw('timer')
    const writers = [await raw('timer'), await raw('timer'), await raw('timer')]
    const writes = 30
    for (let k = 0; k < writes; k++) writers[k % 3].doc.getArray('a').push([k])
    await until(() => reader.doc.getArray('a').length === writes, { message: 'all writes delivered' })
    await until(() => storage.appends === updateFrames(reader).length)
    expect(updateFrames(reader).length).toBe(storage.appends)
    expect(updateFrames(reader).length).toBeLessThan(writes)
  })

  it('a lone writer does not get its own update back', async () => {
    s = await startServer({ tickMs: 20 })
    const reader = await raw('lone')
    const writer = await raw('lone')
    writer.doc.getMap('m').set('x', 1)
    await until(() => reader.doc.getMap('m').get('x') === 1)
    await s.server.rooms.get('lone')!.flush()
    expect(updateFrames(writer).length).toBe(0)
  })

  it('tickMs 0 sends at the end of each incoming message', async () => {
    const storage = new CountingStorage()
    s = await startServer({ tickMs: 0, storage })
    const reader = await raw('zero')
    const writer = await raw('zero')
    const n = 10
    for (let k = 0; k < n; k++) writer.doc.getArray('a').push([k]) // one message each
    await until(() => reader.doc.getArray('a').length === n, { message: 'all writes delivered' })
    expect(updateFrames(reader).length).toBe(n)
    expect(storage.appends).toBe(n)
    // Each frame carries exactly one write, in order.
    const d = new Y.Doc()
    updateFrames(reader).forEach((f, i) => {
      const dec = decoding.createDecoder(f)
      decoding.readVarUint(dec)
      decoding.readVarUint(dec)
      Y.applyUpdate(d, decoding.readVarUint8Array(dec))
      expect(d.getArray('a').length).toBe(i + 1)
    })
  })

  it('tickMs 0 broadcasts changes that no incoming message triggers (awareness removal, backend edits)', async () => {
    s = await startServer({ tickMs: 0 })
    const reader = await raw('zero-aw')
    const leaver = await raw('zero-aw')
    const aw = new awarenessProtocol.Awareness(leaver.doc)
    aw.setLocalState({ name: 'leaver' })
    leaver.sendAwareness(aw, [leaver.doc.clientID])
    const room = s.server.rooms.get('zero-aw')!
    await until(() => room.awareness.getStates().has(leaver.doc.clientID))
    await until(() => reader.framesOfType(MESSAGE_AWARENESS).length > 0, { message: 'awareness set broadcast' })
    const before = reader.framesOfType(MESSAGE_AWARENESS).length
    leaver.ws.terminate()
    await until(() => !room.awareness.getStates().has(leaver.doc.clientID), { message: 'server removed awareness' })
    await until(() => reader.framesOfType(MESSAGE_AWARENESS).length > before, { message: 'removal broadcast' })
    aw.destroy()
    // A backend edit that nobody awaits the flush of still reaches clients.
    room.transactAsServer((doc) => doc.getMap('m').set('backend', true))
    await until(() => reader.doc.getMap('m').get('backend') === true, { message: 'server edit broadcast' })
  })
})

describe('adaptive tick', () => {
  it('in a quiet room a change goes out at once, not at the tick', async () => {
    // A tick that never fires during the test: the reader has the change only if it went
    // out without waiting for it.
    s = await startServer({ tickMs: 60_000 })
    const reader = await raw('quiet')
    const writer = await raw('quiet')
    writer.doc.getMap('m').set('k', 1)
    await until(() => reader.doc.getMap('m').get('k') === 1, { message: 'the change, long before the tick' })
    // Into a root (it might be rejected): applied at once as well.
    writer.doc.getText('t').insert(0, 'typing')
    await until(() => reader.doc.getText('t').toString() === 'typing', { message: 'the typing, long before the tick' })
  })

  it('a small room that is not quiet sends within milliseconds of its last broadcast, not at the tick', async () => {
    // 20 connections: quiet after 10 ms without a broadcast, else the next one 40 ms after
    // the last; the tick never fires during the test.
    s = await startServer({ tickMs: 60_000 })
    const reader = await raw('burst')
    const writer = await raw('burst')
    await Promise.all(Array.from({ length: 18 }, () => raw('burst')))
    // The second write leaves as soon as the first arrives, right after its broadcast: the
    // room is not quiet then, so it waits, but not for the tick.
    const m = reader.doc.getMap('m')
    m.observe(() => {
      if (m.get('k') === 1) writer.doc.getMap('m').set('k', 2)
    })
    writer.doc.getMap('m').set('k', 1)
    await until(() => m.get('k') === 2, { message: 'the second change, long before the tick' })
  })

  it('a busy room batches: far fewer broadcasts than writes', async () => {
    const storage = new CountingStorage()
    s = await startServer({ tickMs: 50, storage })
    const reader = await raw('busy')
    const writers = await Promise.all(Array.from({ length: 8 }, () => raw('busy')))
    const writes = 400
    for (let k = 0; k < writes; k++) writers[k % writers.length].doc.getArray('a').push([k])
    await until(() => reader.doc.getArray('a').length === writes, { message: 'all writes delivered' })
    await until(() => storage.appends === updateFrames(reader).length)
    expect(updateFrames(reader).length).toBeLessThan(writes / 10)
  })
})
