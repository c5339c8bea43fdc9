/**
 * Connection limits (SPEC §12, issue 19 case 8): connections in all and per address, the
 * time a socket has for its HTTP headers (slowloris), and slow consumers. Real sockets on
 * loopback; a second loopback address (127.0.0.2) plays another client host.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { execFile } from 'node:child_process'
import { connect, type Socket } from 'node:net'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import * as syncProtocol from 'y-protocols/sync'
import WebSocket from 'ws'
import { CloseCode } from '../../src/shared/protocol/close-codes.js'
import { MESSAGE_QUERY_AWARENESS, MESSAGE_SYNC } from '../../src/shared/protocol/message-types.js'
import { addressKey } from '../../server/transport/connection-limits.js'
import type { Connection } from '../../server/transport/connection.js'
import { RawClient, startServer, until, type TestServer } from '../helpers.js'
import { killAll, startCli } from './fixtures/cli.js'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const MiB = 1024 * 1024

let s: TestServer | null = null
const sockets: Socket[] = []
const clients: RawClient[] = []
afterEach(async () => {
  for (const sock of sockets.splice(0)) sock.destroy()
  for (const c of clients.splice(0)) c.ws.terminate()
  await s?.close()
  s = null
  await killAll()
})

function raw(url: string, room: string): RawClient {
  const c = new RawClient(url, room)
  clients.push(c)
  return c
}

/**
 * A WebSocket from a given local address. `result`: joined (the server's first message, its
 * sync step 1, arrived) or how it ended: `open` tells whether the upgrade had completed.
 */
function wsFrom(url: string, localAddress: string): { ws: WebSocket; result: Promise<{ open: boolean; code: number; reason: string }> } {
  const ws = new WebSocket(url, { localAddress })
  const result = new Promise<{ open: boolean; code: number; reason: string }>((resolve) => {
    let open = false
    ws.once('open', () => (open = true))
    ws.once('message', () => resolve({ open: true, code: 0, reason: '' }))
    ws.once('close', (code, reason) => resolve({ open, code, reason: reason.toString() }))
    ws.on('error', () => {})
  })
  return { ws, result }
}

/** A raw TCP socket to the server that has connected. */
async function tcp(port: number, localAddress = '127.0.0.1'): Promise<Socket & { closedAt: Promise<number>; received: () => string }> {
  const sock = connect({ port, host: '127.0.0.1', localAddress })
  sockets.push(sock)
  let got = ''
  sock.on('data', (d) => (got += d.toString()))
  sock.on('error', () => {})
  const closedAt = new Promise<number>((r) => sock.once('close', () => r(Date.now())))
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', () => resolve())
    sock.once('error', reject)
  })
  return Object.assign(sock, { closedAt, received: () => got })
}

function rejected(server: TestServer, reason: string): number {
  const metric = server.server.metrics.rejectedMessages as unknown as { hashMap: Record<string, { value: number; labels: { reason: string } }> }
  return Object.values(metric.hashMap).find((v) => v.labels.reason === reason)?.value ?? 0
}

/** The server side of the connection that joined `room` last. */
function newest(server: TestServer, room: string): Connection {
  const conns = [...server.server.rooms.get(room)!.connections]
  return conns.reduce((a, b) => (b.id > a.id ? b : a))
}

function queued(conn: Connection): number {
  return (conn as unknown as { stream: { writableLength: number } }).stream.writableLength
}

function pauseReading(c: RawClient): { resume(): void } {
  const socket = (c.ws as unknown as { _socket: Socket })._socket
  socket.pause()
  return { resume: () => socket.resume() }
}

function syncStep1(doc: Y.Doc): Uint8Array {
  const enc = encoding.createEncoder()
  encoding.writeVarUint(enc, MESSAGE_SYNC)
  syncProtocol.writeSyncStep1(enc, doc)
  return encoding.toUint8Array(enc)
}

describe('addresses', () => {
  it('IPv4-mapped addresses count as IPv4; IPv6 addresses count by their /64', () => {
    expect(addressKey('::ffff:127.0.0.1')).toBe('127.0.0.1')
    expect(addressKey('10.1.2.3')).toBe('10.1.2.3')
    expect(addressKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64')
    expect(addressKey('2001:0db8:0001:0002:ffff:1:2:3')).toBe('2001:db8:1:2::/64')
    expect(addressKey('2001:db8::1')).toBe('2001:db8:0:0::/64')
    expect(addressKey('::1')).toBe('0:0:0:0::/64')
    expect(addressKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64')
    expect(addressKey('2001:db8:1:2::1.2.3.4')).toBe('2001:db8:1:2::/64')
    expect(addressKey(undefined)).toBe('unknown')
  })
})

describe('connection limits', () => {
  it('over maxConnectionsPerAddress a new connection is closed with 1013 and a reason; open ones and other addresses carry on', async () => {
    s = await startServer({ maxConnectionsPerAddress: 3, tickMs: 0 })
    const open = await Promise.all([0, 1, 2].map(() => raw(s!.url, 'room').sync()))
    const extra = raw(s.url, 'room')
    await extra.closed
    expect(extra.closeCode).toBe(CloseCode.TRY_AGAIN_LATER)
    expect(extra.closeReason).toBe('too many connections from this address')
    expect(rejected(s, 'connections-per-address')).toBe(1)
    expect(s.server.connections.size).toBe(3)
    // Another address is not affected.
    const other = wsFrom(`${s.url}/room`, '127.0.0.2')
    expect((await other.result).open).toBe(true)
    other.ws.close()
    // The open connections still sync.
    open[0]!.doc.getMap('m').set('k', 1)
    await until(() => open[1]!.doc.getMap('m').get('k') === 1 && open[2]!.doc.getMap('m').get('k') === 1, { message: 'update delivered' })
    // Once one leaves, the address has a place again.
    await open[0]!.close()
    await until(() => s!.server.connections.size === 2, { message: 'connection gone' })
    const again = await raw(s.url, 'room').sync()
    expect(again.closeCode).toBe(null)
  })

  it('over maxConnections a new connection is closed with 1013 "server at its connection limit"', async () => {
    s = await startServer({ maxConnections: 2, maxConnectionsPerAddress: 10 })
    await raw(s.url, 'room').sync()
    await raw(s.url, 'room').sync()
    const third = wsFrom(`${s.url}/room`, '127.0.0.2')
    expect(await third.result).toEqual({ open: true, code: CloseCode.TRY_AGAIN_LATER, reason: 'server at its connection limit' })
    expect(rejected(s, 'connections-total')).toBe(1)
    expect(s.server.connections.size).toBe(2)
  })

  it('sockets that never finish their request count per address: past the cap they are destroyed on accept, other addresses connect', async () => {
    s = await startServer({ maxConnectionsPerAddress: 4, headersTimeoutMs: 30_000 })
    const silent = []
    for (let i = 0; i < 4; i++) silent.push(await tcp(s.port))
    const started = Date.now()
    const fifth = await tcp(s.port)
    // Destroyed at once, long before any header timeout.
    expect((await fifth.closedAt) - started).toBeLessThan(2000)
    expect(fifth.received()).toBe('')
    expect(rejected(s, 'connections-per-address')).toBe(1)
    // The address cannot open a WebSocket either while its sockets hang; another can.
    expect((await wsFrom(`${s.url}/room`, '127.0.0.1').result).open).toBe(false)
    const other = wsFrom(`${s.url}/room`, '127.0.0.2')
    expect((await other.result).open).toBe(true)
    other.ws.close()
    // When they go, the address connects again.
    for (const sock of silent) sock.destroy()
    await Promise.all(silent.map((sock) => sock.closedAt))
    let admitted = false
    for (let i = 0; i < 50 && !admitted; i++) {
      const attempt = wsFrom(`${s.url}/room`, '127.0.0.1')
      admitted = (await attempt.result).open
      attempt.ws.terminate()
    }
    expect(admitted).toBe(true)
  })
})

describe('header timeout', () => {
  it('a socket that sends its request slowly (slowloris), or nothing, is closed after headersTimeoutMs; others connect meanwhile', async () => {
    s = await startServer({ headersTimeoutMs: 300 })
    const started = Date.now()
    const silent = await tcp(s.port)
    const slow = await tcp(s.port)
    const request = `GET /room HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n`
    let i = 0
    const drip = setInterval(() => {
      if (!slow.destroyed && i < request.length) slow.write(request[i++]!)
    }, 30)
    try {
      // A normal client connects and syncs while they hang.
      const normal = await raw(s.url, 'room').sync()
      expect(normal.closeCode).toBe(null)
      const [silentClosed, slowClosed] = await Promise.all([silent.closedAt, slow.closedAt])
      // Node's own default would hold them for 60 s (checked every 30 s).
      expect(silentClosed - started).toBeLessThan(1500)
      expect(slowClosed - started).toBeLessThan(1500)
      expect(slowClosed - started).toBeGreaterThanOrEqual(250)
      expect(i).toBeLessThan(request.length) // it was still sending its headers
      expect(slow.received()).toMatch(/^HTTP\/1\.1 408 /)
      expect(rejected(s, 'headers-timeout')).toBe(2)
      expect(normal.closeCode).toBe(null)
      expect(s.server.connections.size).toBe(1)
    } finally {
      clearInterval(drip)
    }
  })
})

describe('slow consumers', () => {
  it('a client that stops reading is dropped once its queue passes the largest message by maxBufferedBytes (default 4 MiB); the others keep getting updates', async () => {
    s = await startServer({ tickMs: 0, compactAfterEntries: 20 })
    const slowClient = await raw(s.url, 'slow').sync()
    const slowSide = newest(s, 'slow')
    const fast = await raw(s.url, 'slow').sync()
    const writer = await raw(s.url, 'slow').sync()
    pauseReading(slowClient)
    let peak = 0
    let i = 0
    while (!slowSide.closed && i < 400) {
      writer.doc.getMap('m').set('blob', 'x'.repeat(100_000) + i++)
      await until(() => fast.doc.getMap('m').get('blob')?.toString().endsWith(String(i - 1)), { message: `write ${i} delivered` })
      if (!slowSide.closed) peak = Math.max(peak, queued(slowSide))
    }
    expect(slowSide.closed).toBe(true)
    // What waited in the server for it never passed the bound plus one message.
    expect(peak).toBeGreaterThan(3 * MiB)
    expect(peak).toBeLessThanOrEqual(4 * MiB + 128 * 1024)
    expect(rejected(s, 'slow-consumer')).toBe(1)
    const room = s.server.rooms.get('slow')!
    await until(() => !room.connections.has(slowSide), { message: 'slow connection left the room' })
    expect(room.connections.size).toBe(2)
    writer.doc.getMap('m').set('after', 1)
    await until(() => fast.doc.getMap('m').get('after') === 1)
  })

  it('a late joiner gets its whole sync when the document is larger than maxBufferedBytes, while others write; a second big answer it does not read counts', async () => {
    s = await startServer({ tickMs: 0, maxBufferedBytes: 512 * 1024 })
    const SIZE = 8_000_000
    await s.server.rooms.edit('big', (doc) => doc.getText('t').insert(0, 'y'.repeat(SIZE)))
    const writer = await raw(s.url, 'big').sync()
    const fast = await raw(s.url, 'big').sync()
    // The joiner asks for the document and reads nothing for now (a slow link).
    const joiner = await raw(s.url, 'big').open()
    await until(() => s!.server.rooms.get('big')!.connections.size === 3, { message: 'joined' })
    const joinerSide = newest(s, 'big')
    const reading = pauseReading(joiner)
    joiner.send(syncStep1(joiner.doc))
    await until(() => queued(joinerSide) > 2 * MiB, { message: 'sync answer queued' })
    for (let i = 0; i < 5; i++) {
      writer.doc.getMap('m').set(`k${i}`, i)
      await until(() => fast.doc.getMap('m').get(`k${i}`) === i, { message: `write ${i} delivered` })
    }
    expect(joinerSide.closed).toBe(false)
    reading.resume()
    await until(() => joiner.synced && joiner.doc.getMap('m').get('k4') === 4, { timeout: 10_000, message: 'joiner synced' })
    expect(joiner.doc.getText('t').length).toBe(SIZE)
    expect(joiner.closeCode).toBe(null)
    expect(rejected(s, 'slow-consumer')).toBe(0)

    // Asking twice without reading: only the largest message is exempt, the second answer
    // counts against the bound.
    const greedy = await raw(s.url, 'big').open()
    await until(() => s!.server.rooms.get('big')!.connections.size === 4, { message: 'joined' })
    const greedySide = newest(s, 'big')
    pauseReading(greedy)
    greedy.send(syncStep1(greedy.doc))
    greedy.send(syncStep1(greedy.doc))
    await until(() => greedySide.closed, { message: 'greedy dropped' })
    expect(rejected(s, 'slow-consumer')).toBe(1)
    expect(joinerSide.closed).toBe(false)
  })

  it('a client whose queued data does not move for a heartbeat interval is dropped, even while it keeps sending', async () => {
    s = await startServer({ tickMs: 0, heartbeatMs: 200, maxBufferedBytes: 256 * MiB })
    const slowClient = await raw(s.url, 'stall').sync()
    const slowSide = newest(s, 'stall')
    const fast = await raw(s.url, 'stall').sync()
    const writer = await raw(s.url, 'stall').sync()
    pauseReading(slowClient)
    // It keeps talking (an empty update every 50 ms), which keeps it alive for the heartbeat.
    const empty = Y.encodeStateAsUpdate(new Y.Doc())
    const talk = setInterval(() => slowClient.sendUpdate(empty), 50)
    try {
      // Fill the kernel's buffers until data waits in the server.
      let i = 0
      while (queued(slowSide) === 0 && i < 400) {
        writer.doc.getMap('m').set('blob', 'x'.repeat(100_000) + i++)
        await until(() => fast.doc.getMap('m').get('blob')?.toString().endsWith(String(i - 1)), { message: `write ${i} delivered` })
      }
      expect(queued(slowSide)).toBeGreaterThan(0)
      await until(() => slowSide.closed, { timeout: 3000, message: 'stalled connection dropped' })
      expect(rejected(s, 'slow-consumer')).toBe(1)
      writer.doc.getMap('m').set('after', 1)
      await until(() => fast.doc.getMap('m').get('after') === 1)
      expect(fast.closeCode).toBe(null)
      expect(writer.closeCode).toBe(null)
    } finally {
      clearInterval(talk)
    }
  })
})

describe('cli', () => {
  it('the limit flags reach the server; --help lists them all', async () => {
    const help = await new Promise<string>((resolve) =>
      execFile(process.execPath, ['--import', 'tsx', join(ROOT, 'server', 'cli.ts'), 'serve', '--help'], { cwd: ROOT }, (_err, stdout) => resolve(stdout)),
    )
    for (const flag of [
      '--max-document-bytes',
      '--max-nesting-depth',
      '--max-awareness-ids',
      '--max-connections',
      '--max-connections-per-address',
      '--headers-timeout-ms',
      '--max-buffered-bytes',
      '--messages-per-second',
      '--message-burst',
      '--bytes-per-second',
      '--max-pending-bytes',
      '--max-message-bytes',
    ]) {
      expect(help).toContain(flag)
    }
    const p = await startCli(['--data', ':memory:', '--max-connections-per-address', '2', '--headers-timeout-ms', '300', '--messages-per-second', '1', '--message-burst', '3'])
    const first = new RawClient(p.url, 'cli')
    clients.push(first)
    await first.open()
    const second = wsFrom(`${p.url}/cli`, '127.0.0.1')
    expect((await second.result).open).toBe(true)
    const third = wsFrom(`${p.url}/cli`, '127.0.0.1')
    expect(await third.result).toEqual({ open: true, code: CloseCode.TRY_AGAIN_LATER, reason: 'too many connections from this address' })
    second.ws.close()
    // Rate: a burst of 3, then 1 a second; a read holding more than a minute's worth is abuse.
    const socket = (first.ws as unknown as { _socket: Socket })._socket
    socket.cork()
    for (let i = 0; i < 100; i++) first.send(new Uint8Array([MESSAGE_QUERY_AWARENESS]))
    socket.uncork()
    await first.closed
    expect(first.closeCode).toBe(CloseCode.POLICY_VIOLATION)
    expect(first.closeReason).toMatch(/rate/)
    // Header timeout: a silent socket is closed after about 300 ms.
    const started = Date.now()
    const silent = await tcp(p.port)
    expect((await silent.closedAt) - started).toBeLessThan(1500)
  })
})
