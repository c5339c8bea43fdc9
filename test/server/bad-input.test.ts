/**
 * Untrusted input: every malformed message closes only the offending connection, with a
 * close code and a reason; the room keeps syncing and loses no accepted change.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import WebSocket from 'ws'
import { pino } from 'pino'
import { CloseCode } from '../../src/shared/protocol/close-codes.js'
import { MESSAGE_AWARENESS, MESSAGE_QUERY_AWARENESS, MESSAGE_SYNC } from '../../src/shared/protocol/message-types.js'
import { applyStoredDocument, connectProvider, mulberry32, RawClient, startServer, until, type ProviderClient, type TestServer } from '../helpers.js'

const MAX = 4096
let s: TestServer
let a: ProviderClient
let b: ProviderClient
let round = 0

beforeAll(async () => {
  s = await startServer({ maxMessageBytes: MAX, tickMs: 10 })
  a = await connectProvider(s.url, 'room')
  b = await connectProvider(s.url, 'room')
})
afterAll(async () => {
  a.destroy()
  b.destroy()
  await s.close()
})

function message(...parts: Array<(e: encoding.Encoder) => void>): Uint8Array {
  const e = encoding.createEncoder()
  for (const p of parts) p(e)
  return encoding.toUint8Array(e)
}
const uint = (n: number) => (e: encoding.Encoder) => encoding.writeVarUint(e, n)
const bytes = (b: Uint8Array) => (e: encoding.Encoder) => encoding.writeVarUint8Array(e, b)
const raw = (b: Uint8Array) => (e: encoding.Encoder) => encoding.writeUint8Array(e, b)

/** A valid update setting `key` in map 'm', from a throwaway doc. */
function validUpdate(key: string, value: unknown = key): Uint8Array {
  const d = new Y.Doc()
  d.getMap('m').set(key, value)
  return Y.encodeStateAsUpdate(d)
}

/**
 * The offender first makes an accepted change, then sends `bad`. Checks: it alone is closed
 * with `code` and a reason; its accepted change survives; the others keep syncing.
 */
async function expectRejected(bad: Uint8Array | string, code: number, reason: RegExp): Promise<void> {
  const n = ++round
  const offender = await new RawClient(s.url, 'room').sync()
  offender.doc.getMap('m').set(`accepted-${n}`, n)
  await until(() => b.doc.getMap('m').get(`accepted-${n}`) === n, { message: 'accepted change broadcast' })
  offender.ws.send(bad)
  await offender.closed
  expect(offender.closeCode).toBe(code)
  expect(offender.closeReason).toMatch(reason)
  // The room is intact and the other clients keep syncing both ways.
  a.doc.getMap('m').set(`after-${n}`, n)
  b.doc.getMap('m').set(`after-b-${n}`, n)
  await until(() => b.doc.getMap('m').get(`after-${n}`) === n && a.doc.getMap('m').get(`after-b-${n}`) === n, {
    message: 'others keep syncing',
  })
  const room = s.server.rooms.get('room')!
  expect(room.doc.getMap('m').get(`accepted-${n}`)).toBe(n)
  expect(room.connections.size).toBe(2)
}

describe('bad input', () => {
  it('garbage bytes', () => expectRejected(new Uint8Array([0xde, 0xad, 0xbe, 0xef, 0x01, 0x02]), CloseCode.PROTOCOL_ERROR, /.+/))
  it('empty message', () => expectRejected(new Uint8Array(0), CloseCode.PROTOCOL_ERROR, /malformed/))
  it('truncated varint', () => expectRejected(new Uint8Array([0x80]), CloseCode.PROTOCOL_ERROR, /malformed/))
  it('truncated sync message', () => expectRejected(new Uint8Array([MESSAGE_SYNC, 2, 0x80]), CloseCode.PROTOCOL_ERROR, /malformed/))
  it('update cut short (length prefix says more than the frame has)', () => {
    const full = message(uint(MESSAGE_SYNC), uint(2), bytes(validUpdate('cut')))
    return expectRejected(full.slice(0, full.length - 3), CloseCode.PROTOCOL_ERROR, /malformed/)
  })
  it('update with a truncated body (framing intact)', () => {
    const u = validUpdate('trunc-body', 'x'.repeat(40))
    return expectRejected(message(uint(MESSAGE_SYNC), uint(2), bytes(u.slice(0, u.length - 10))), CloseCode.PROTOCOL_ERROR, /malformed/)
  })
  it('update that is random bytes', () =>
    expectRejected(message(uint(MESSAGE_SYNC), uint(2), bytes(new Uint8Array([5, 200, 1, 7, 7, 7, 9]))), CloseCode.PROTOCOL_ERROR, /malformed/))
  it('unknown sync message type', () => expectRejected(message(uint(MESSAGE_SYNC), uint(9)), CloseCode.PROTOCOL_ERROR, /sync message type 9/))
  it('unknown message type', () => expectRejected(message(uint(42), raw(new Uint8Array([1, 2, 3]))), CloseCode.PROTOCOL_ERROR, /unknown message type 42/))
  it('awareness update with invalid JSON', () => {
    const aw = message(uint(1), uint(12345), uint(1), (e) => encoding.writeVarString(e, '{not json'))
    return expectRejected(message(uint(MESSAGE_AWARENESS), bytes(aw)), CloseCode.PROTOCOL_ERROR, /malformed/)
  })
  it('awareness update cut short', () => {
    const aw = message(uint(2), uint(12345), uint(1), (e) => encoding.writeVarString(e, '{}'))
    return expectRejected(message(uint(MESSAGE_AWARENESS), bytes(aw)), CloseCode.PROTOCOL_ERROR, /malformed/)
  })
  it('text frame', () => expectRejected('hello', CloseCode.UNSUPPORTED_DATA, /binary/))
  it('message over maxMessageBytes', () =>
    expectRejected(message(uint(MESSAGE_SYNC), uint(2), bytes(validUpdate('big', 'x'.repeat(MAX + 100)))), CloseCode.MESSAGE_TOO_BIG, /.+/))
  it('message far over maxMessageBytes', () => expectRejected(new Uint8Array(MAX * 20), CloseCode.MESSAGE_TOO_BIG, /.*/))

  it('a message just under the limit is accepted', async () => {
    const c = await new RawClient(s.url, 'room').sync()
    const u = validUpdate('just-under', 'y'.repeat(MAX - 200))
    const m = message(uint(MESSAGE_SYNC), uint(2), bytes(u))
    expect(m.byteLength).toBeLessThanOrEqual(MAX)
    c.send(m)
    await until(() => b.doc.getMap('m').get('just-under') !== undefined)
    expect(c.closeCode).toBe(null)
    await c.close()
  })
})

function decodeURIComponentSafe(p: string): string {
  try {
    return decodeURIComponent(p)
  } catch {
    return p
  }
}

describe('invalid room names', () => {
  async function openAndClose(path: string): Promise<{ code: number; reason: string }> {
    const ws = new WebSocket(`${s.url}/${path}`)
    return new Promise((resolve, reject) => {
      ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() }))
      ws.once('error', reject)
    })
  }
  it.each([
    ['longer than 512 characters', 'r'.repeat(513), /512/],
    ['a control character', 'bad%01name', /control/],
    ['a DEL character', 'bad%7Fname', /control/],
    ['a newline', 'bad%0Aname', /control/],
    ['empty', '', /empty/],
    ['broken percent-encoding', 'bad%E0%A4%A', /encoding/],
  ])('rejects a room name that is %s (4400 with reason)', async (_what, path, reason) => {
    const { code, reason: r } = await openAndClose(path)
    expect(code).toBe(CloseCode.INVALID_ROOM)
    expect(r).toMatch(reason)
    expect([...s.server.rooms.all.keys()].filter((n) => n !== 'room' && s.server.rooms.get(n)!.connections.size > 0)).toEqual([])
    expect(s.server.rooms.get(decodeURIComponentSafe(path))).toBeUndefined() // no room was created for it
  })
  it.each([['a/b'], ['/leading-slash'], ['//double'], ['with space'], ['100%25']])('accepts the room name %s as is', async (name) => {
    const c = await connectProvider(s.url, name)
    const expected = name === '100%25' ? '100%' : name.replace('%20', ' ')
    expect([...s.server.rooms.all.keys()]).toContain(expected)
    c.destroy()
  })
  it('accepts exactly 512 characters and unicode', async () => {
    const c = await connectProvider(s.url, 'é'.repeat(512))
    expect(s.server.rooms.get('é'.repeat(512))).toBeDefined()
    c.destroy()
  })
})

describe('fuzz: mutated updates never corrupt the room', () => {
  it('random byte flips in valid update messages', async () => {
    // Deterministic PRNG so a failure reproduces.
    // FUZZ_SEED / FUZZ_ROUNDS widen the search locally; the defaults keep CI fast.
    const rand = mulberry32(Number(process.env.FUZZ_SEED ?? 0x5eed))
    const rounds = Number(process.env.FUZZ_ROUNDS ?? 150)
    const src = new Y.Doc()
    src.getMap('m').set('fuzz-base', 1)
    const base = Y.encodeStateVector(src)
    src.transact(() => {
      src.getArray('arr').push(['a', 1, { o: true }])
      src.getText('txt').insert(0, 'fuzzing text')
      const nested = new Y.Map()
      src.getMap('m').set('nested', nested)
      nested.set('k', 'v')
    })
    const update = Y.encodeStateAsUpdate(src, base)
    let conn = await new RawClient(s.url, 'room').sync()
    let accepted = 0
    for (let i = 0; i < rounds; i++) {
      const m = message(uint(MESSAGE_SYNC), uint(2), bytes(update))
      const flips = 1 + Math.floor(rand() * 3)
      for (let f = 0; f < flips; f++) m[2 + Math.floor(rand() * (m.length - 2))] = Math.floor(rand() * 256)
      if (conn.closeCode !== null) conn = await new RawClient(s.url, 'room').sync()
      // Send, then a query-awareness: its answer (or a close) says the server has handled it.
      const before = conn.framesOfType(MESSAGE_AWARENESS).length
      conn.send(m)
      conn.send(message(uint(MESSAGE_QUERY_AWARENESS)))
      await until(() => conn.closeCode !== null || conn.framesOfType(MESSAGE_AWARENESS).length > before, { message: `fuzz ${i} handled` })
      if (conn.closeCode === null) accepted++
    }
    expect(accepted).toBeGreaterThan(0) // some mutations are valid updates: both paths ran
    expect(accepted).toBeLessThan(rounds)
    conn.ws.terminate()
    // Whatever was accepted is stored and reached the other clients: server, storage and
    // clients hold the same state, and the room still syncs.
    a.doc.getMap('m').set('after-fuzz', true)
    await until(() => b.doc.getMap('m').get('after-fuzz') === true)
    const room = s.server.rooms.get('room')!
    await room.flush()
    const stored = await s.server.storage.load('room')
    const fromStorage = new Y.Doc()
    applyStoredDocument(fromStorage, stored)
    expect(Y.encodeStateVector(fromStorage)).toEqual(Y.encodeStateVector(room.doc))
    const sv = (d: Y.Doc) => Buffer.from(Y.encodeStateVector(d)).toString('hex')
    await until(() => sv(b.doc) === sv(room.doc), { message: 'client b converged on the server state' })
    expect(Y.encodeStateVector(b.doc)).toEqual(Y.encodeStateVector(room.doc))
    expect(b.doc.getMap('m').toJSON()).toEqual(room.doc.getMap('m').toJSON())
  })
})

describe('limits', () => {
  // The message rate is backpressure, not a close: flow.test.ts.
  it('an update that would grow the document past maxDocumentBytes is refused with 4413; what was stored stays', async () => {
    const srv = await startServer({ maxDocumentBytes: 3000, tickMs: 0 })
    try {
      const c = await new RawClient(srv.url, 'cap').sync()
      const room = srv.server.rooms.get('cap')!
      let accepted = 0
      while (c.closeCode === null && accepted < 20) {
        c.sendUpdate(validUpdate(`k${accepted}`, 'z'.repeat(500)))
        const want = accepted + 1
        await until(() => c.closeCode !== null || room.doc.getMap('m').size === want)
        if (c.closeCode === null) {
          await room.flush() // storedBytes counts what is stored
          accepted++
        }
      }
      await c.closed
      expect(c.closeCode).toBe(CloseCode.DOCUMENT_TOO_LARGE)
      expect(c.closeReason).toMatch(/3000/)
      expect(accepted).toBeGreaterThan(2)
      expect(accepted).toBeLessThan(6)
      expect(room.doc.getMap('m').size).toBe(accepted)
      const fresh = await connectProvider(srv.url, 'cap')
      expect(fresh.doc.getMap('m').size).toBe(accepted)
      fresh.destroy()
    } finally {
      await srv.close()
    }
  })
})

describe('slow consumers', () => {
  it('a client that stops reading is dropped once its unsent data passes maxBufferedBytes', async () => {
    const srv = await startServer({ maxBufferedBytes: 256 * 1024, tickMs: 0, compactAfterEntries: 20 })
    try {
      const slow = await new RawClient(srv.url, 'slow').sync()
      const fast = await new RawClient(srv.url, 'slow').sync()
      const writer = await new RawClient(srv.url, 'slow').sync()
      ;(slow.ws as unknown as { _socket: { pause(): void } })._socket.pause() // stops reading; the kernel buffers fill up
      const room = srv.server.rooms.get('slow')!
      const serverSide = [...room.connections].find((c) => c.id === Math.min(...[...room.connections].map((x) => x.id)))!
      let i = 0
      while (!serverSide.closed && i < 1000) {
        writer.doc.getMap('m').set('blob', 'x'.repeat(60_000) + i++)
        await until(() => fast.doc.getMap('m').get('blob')?.toString().endsWith(String(i - 1)), { message: `write ${i} delivered` })
      }
      // Dropped at once (a close frame would wait behind the unread data); the others stay.
      expect(serverSide.closed).toBe(true)
      await until(() => !room.connections.has(serverSide), { message: 'slow connection left the room' })
      expect(room.connections.size).toBe(2)
      writer.doc.getMap('m').set('after', 1)
      await until(() => fast.doc.getMap('m').get('after') === 1)
    } finally {
      await srv.close()
    }
  })
})

describe('dropped connections', () => {
  it('a connection whose TCP stream dies while a tick is being sent is skipped; the room carries on', async () => {
    // Without the adaptive tick: the update must still wait when the stream is destroyed.
    const srv = await startServer({ tickMs: 50, adaptiveTick: false })
    try {
      const [writer, reader, dying] = await Promise.all(['w', 'r', 'd'].map(() => new RawClient(srv.url, 'drop').sync()))
      const room = srv.server.rooms.get('drop')!
      const ids = [...room.connections].map((c) => c.id).sort((x, y) => x - y)
      const server = [...room.connections].find((c) => c.id === ids[2])! // `dying`, connected last
      const received = srv.server.metrics.updatesIn.value
      writer.doc.getMap('m').set('k', 1)
      await until(() => srv.server.metrics.updatesIn.value > received, { message: 'update received' })
      // Its stream is destroyed under ws (as on a reset) and the tick is sent at once, before
      // ws has seen the close: the broadcast must pass it by without an error.
      const sent = srv.server.metrics.messagesOut.value
      ;(server as unknown as { stream: { destroy(): void } }).stream.destroy()
      await room.flush()
      // Only `reader` was sent the tick: the lone writer has its update, the dead stream is skipped.
      expect(srv.server.metrics.messagesOut.value - sent).toBe(1)
      await until(() => reader.doc.getMap('m').get('k') === 1, { message: 'tick delivered to the others' })
      await until(() => !room.connections.has(server), { message: 'dead connection left the room' })
      await dying.closed
      writer.doc.getMap('m').set('k', 2)
      await until(() => reader.doc.getMap('m').get('k') === 2, { message: 'room still syncs' })
      writer.ws.close()
      reader.ws.close()
    } finally {
      await srv.close()
    }
  })
})

describe('logging', () => {
  it('every refused input is logged with its room and connection', async () => {
    const lines: Array<{ msg: string; level: number; room?: string }> = []
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) })
    const srv = await startServer({ logger, maxMessageBytes: MAX })
    try {
      const sendAndWait = async (bad: Uint8Array | string) => {
        const c = await new RawClient(srv.url, 'logged').sync()
        c.ws.send(bad)
        await c.closed
      }
      await sendAndWait(new Uint8Array([0x80]))
      await sendAndWait(new Uint8Array([42]))
      await sendAndWait('text')
      await sendAndWait(new Uint8Array(MAX + 10))
      await new Promise<void>((resolve) => new WebSocket(`${srv.url}/bad%01`).once('close', () => resolve()))
      const warnings = lines.filter((l) => l.level >= 40).map((l) => l.msg)
      expect(warnings).toEqual(['malformed message', 'message refused', 'text frame', 'message over the size limit', 'invalid room name'])
      expect(lines.filter((l) => l.level >= 40 && l.msg !== 'invalid room name').every((l) => l.room === 'logged')).toBe(true)
    } finally {
      await srv.close()
    }
  })
})
