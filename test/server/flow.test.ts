/**
 * Inbound limits that fit editors (SPEC §12, issue 20 cases 1–2): one legitimate message up
 * to the document cap is accepted (a big paste, an offline client's catch-up), a fast
 * writer is slowed by backpressure instead of closed, large messages arriving together
 * share one memory budget, and a refusal a retry cannot fix stops the SDK's reconnects.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { gunzipSync } from 'node:zlib'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as Y from 'yjs'
import WebSocket from 'ws'
import { CloseCode } from '../../src/shared/protocol/close-codes.js'
import * as encoding from 'lib0/encoding'
import * as syncProtocol from 'y-protocols/sync'
import { MESSAGE_QUERY_AWARENESS, MESSAGE_SYNC } from '../../src/shared/protocol/message-types.js'
import { connect, type Room, type StatusEvent } from '../../src/sdk/index.js'
import { connectProvider, RawClient, startServer, until, type ProviderClient, type TestServer } from '../helpers.js'

const TRACE = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'shared', 'realworld', 'automerge-paper.json.gz')

let s: TestServer | null = null
const cleanups: Array<() => void> = []
afterEach(async () => {
  for (const c of cleanups.splice(0)) c()
  await s?.close()
  s = null
})

async function provider(url: string, room: string, doc?: Y.Doc): Promise<ProviderClient> {
  const c = await connectProvider(url, room, doc ? { doc } : {})
  cleanups.push(() => c.destroy())
  return c
}

/** Counts the provider's disconnects (a close of any kind). */
function disconnects(c: ProviderClient): { count: number } {
  const seen = { count: 0 }
  c.provider.on('status', (e: { status: string }) => {
    if (e.status === 'disconnected') seen.count++
  })
  return seen
}

function syncUpdateMessage(update: Uint8Array): Uint8Array {
  const enc = encoding.createEncoder()
  encoding.writeVarUint(enc, MESSAGE_SYNC)
  syncProtocol.writeUpdate(enc, update)
  return encoding.toUint8Array(enc)
}

async function pauses(srv: TestServer, reason: string): Promise<number> {
  const m = await srv.server.metrics.inboundPauses.get()
  return m.values.find((v) => v.labels.reason === reason)?.value ?? 0
}

describe('one legitimate message up to the document cap is accepted', () => {
  it('a 150 KB paste from a stock provider reaches another client and storage', async () => {
    s = await startServer({ tickMs: 10 })
    const a = await provider(s.url, 'paste')
    const b = await provider(s.url, 'paste')
    const closes = disconnects(a)
    const paste = 'lorem ipsum dolor sit amet '.repeat(5700) // ~150 KB in one transaction
    a.doc.getText('t').insert(0, paste)
    await until(() => b.doc.getText('t').length === paste.length, { message: 'the paste reached the other client' })
    a.doc.getText('t').insert(0, 'after ')
    await until(() => b.doc.getText('t').toString().startsWith('after lorem'), { message: 'a later small edit arrived' })
    expect(closes.count).toBe(0)
    const room = s.server.rooms.get('paste')!
    await room.flush()
    const stored = new Y.Doc()
    Y.applyUpdate(stored, Y.mergeUpdates((await s.server.storage.load('paste')).updates))
    expect(stored.getText('t').toString()).toBe(b.doc.getText('t').toString())
  })

  it("an offline client's catch-up (the automerge-perf trace, one large sync step 2) arrives", async () => {
    s = await startServer({ tickMs: 10 })
    const trace = JSON.parse(gunzipSync(readFileSync(TRACE)).toString()) as { endContent: string; txns: Array<{ patches: Array<[number, number, string]> }> }
    const offline = new Y.Doc()
    const text = offline.getText('t')
    for (let i = 0; i < trace.txns.length; i += 1000) {
      offline.transact(() => {
        for (const t of trace.txns.slice(i, i + 1000)) {
          for (const [pos, del, ins] of t.patches) {
            if (del > 0) text.delete(pos, del)
            if (ins) text.insert(pos, ins)
          }
        }
      })
    }
    expect(text.toString()).toBe(trace.endContent)
    expect(Y.encodeStateAsUpdate(offline).byteLength).toBeGreaterThan(125 * 1024) // the old limit
    const observer = await provider(s.url, 'trace')
    const a = await provider(s.url, 'trace', offline) // its sync step 2 carries the whole trace
    const closes = disconnects(a)
    await until(() => observer.doc.getText('t').length === trace.endContent.length, { timeout: 20_000, message: 'the catch-up reached the observer' })
    expect(observer.doc.getText('t').toString()).toBe(trace.endContent)
    expect(closes.count).toBe(0)
  }, 60_000)
})

describe('rates are enforced by backpressure', () => {
  it('a writer over its message rate is slowed, not closed, and loses nothing', async () => {
    s = await startServer({ tickMs: 10, messagesPerSecond: 200, messageBurst: 20 })
    const a = await provider(s.url, 'fast')
    const b = await provider(s.url, 'fast')
    const closes = disconnects(a)
    const list = a.doc.getArray<number>('l')
    for (let i = 0; i < 300; i++) list.push([i]) // 300 transactions: 300 messages at once
    await until(() => b.doc.getArray('l').length === 300, { timeout: 15_000, message: 'every message arrived' })
    expect(b.doc.getArray('l').toArray()).toEqual([...Array(300).keys()])
    expect(closes.count).toBe(0)
    expect(await pauses(s, 'messages')).toBeGreaterThan(0)
  })

  it('a writer over its byte rate is slowed, not closed, and loses nothing', async () => {
    s = await startServer({ tickMs: 10, bytesPerSecond: 256 * 1024 })
    const a = await provider(s.url, 'bytes')
    const b = await provider(s.url, 'bytes')
    const closes = disconnects(a)
    const map = a.doc.getMap<string>('m')
    for (let i = 0; i < 8; i++) map.set(`k${i}`, String(i).repeat(200_000)) // 1.6 MB, over 2 s worth
    await until(() => b.doc.getMap('m').size === 8, { timeout: 15_000, message: 'every large write arrived' })
    expect(b.doc.getMap('m').get('k7')).toBe('7'.repeat(200_000))
    expect(closes.count).toBe(0)
    expect(await pauses(s, 'bytes')).toBeGreaterThan(0)
  })

  it('large messages arriving together share maxPendingBytes and all arrive', async () => {
    s = await startServer({ tickMs: 10, maxPendingBytes: 600 * 1024 })
    const observer = await provider(s.url, 'big')
    const senders = await Promise.all([0, 1, 2, 3].map(() => new RawClient(s!.url, 'big').sync()))
    cleanups.push(() => senders.forEach((c) => c.ws.terminate()))
    // Four 1 MB updates, sent as fragments in turn: all four are partly received at once,
    // more than the budget holds together.
    const messages = senders.map((_, i) => {
      const doc = new Y.Doc()
      doc.getMap('m').set(`k${i}`, String(i).repeat(1024 * 1024))
      return syncUpdateMessage(Y.encodeStateAsUpdate(doc))
    })
    const PART = 128 * 1024
    for (let at = 0; at < messages[0].byteLength; at += PART) {
      senders.forEach((c, i) => c.ws.send(messages[i].subarray(at, at + PART), { fin: at + PART >= messages[i].byteLength }))
      await new Promise((r) => setTimeout(r, 5))
    }
    await until(() => observer.doc.getMap('m').size === 4, { timeout: 20_000, message: 'every large message arrived' })
    expect(observer.doc.getMap('m').get('k3')).toBe('3'.repeat(1024 * 1024))
    for (const c of senders) expect(c.closeCode).toBeNull()
    // Some waited for the budget: also proves the server reads ws's receiving state.
    expect(await pauses(s, 'memory')).toBeGreaterThan(0)
  }, 30_000)

  it("a single read holding more than a minute's worth of messages is abuse: closed with 1008; others carry on", async () => {
    s = await startServer({ tickMs: 10, messagesPerSecond: 5, messageBurst: 5 })
    const calm = await provider(s.url, 'flood')
    const flood = await new RawClient(s.url, 'flood').sync()
    cleanups.push(() => flood.ws.terminate())
    // One TCP write holding 500 tiny messages.
    const socket = (flood.ws as unknown as { _socket: import('node:net').Socket })._socket
    socket.cork()
    for (let i = 0; i < 500; i++) flood.send(new Uint8Array([MESSAGE_QUERY_AWARENESS]))
    socket.uncork()
    await flood.closed
    expect(flood.closeCode).toBe(CloseCode.POLICY_VIOLATION)
    expect(flood.closeReason).toMatch(/rate/)
    const other = await provider(s.url, 'flood')
    calm.doc.getMap('m').set('ok', true)
    await until(() => other.doc.getMap('m').get('ok') === true)
  })
})

describe('a refusal a retry cannot fix', () => {
  it('a message over maxMessageBytes: the SDK stops reconnecting, reports it and keeps the local edits', async () => {
    s = await startServer({ tickMs: 10, maxMessageBytes: 100_000 })
    const statuses: StatusEvent[] = []
    const room: Room = connect({ url: s.url, room: 'huge', WebSocket: WebSocket as never })
    cleanups.push(() => void room.destroy())
    room.on('status', (e) => statuses.push(e))
    await until(() => room.status === 'connected', { message: 'SDK connected' })
    room.doc.getText('t').insert(0, 'x'.repeat(150_000))
    await until(() => room.status === 'closed', { message: 'SDK closed' })
    const last = statuses[statuses.length - 1]
    expect(last).toMatchObject({ status: 'closed', code: CloseCode.MESSAGE_TOO_BIG, willReconnect: false })
    expect(last.reason).toMatch(/over the limit/)
    expect(room.doc.getText('t').length).toBe(150_000)
    expect(statuses.filter((e) => e.status === 'connecting').length).toBe(0)
  })
})
