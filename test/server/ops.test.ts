/** Operations: heartbeat, /healthz, /metrics. */
import { afterEach, describe, expect, it } from 'vitest'
import * as encoding from 'lib0/encoding'
import * as syncProtocol from 'y-protocols/sync'
import * as awarenessProtocol from 'y-protocols/awareness'
import * as Y from 'yjs'
import WebSocket from 'ws'
import { MESSAGE_AWARENESS, MESSAGE_QUERY_AWARENESS, MESSAGE_SYNC } from '../../src/shared/protocol/message-types.js'
import { applyStoredDocument, providerPool, RawClient, startServer, until, type TestServer } from '../helpers.js'

let s: TestServer
const pool = providerPool(() => s.url)
const join = pool.join
afterEach(async () => {
  pool.destroyAll()
  await s?.close()
})

describe('heartbeat', () => {
  it('closes a connection that stops answering pings and removes its awareness; live clients stay', async () => {
    s = await startServer({ heartbeatMs: 50 })
    const live = await join('hb')
    // A raw socket that publishes awareness, then goes silent and never answers pings.
    const silent = new WebSocket(`${s.url}/hb`, { autoPong: false })
    await new Promise((r) => silent.once('open', r))
    let pings = 0
    silent.on('ping', () => pings++)
    const closed = new Promise<number>((r) => silent.once('close', (code) => r(code)))
    const doc = new Y.Doc()
    const aw = new awarenessProtocol.Awareness(doc)
    aw.setLocalState({ name: 'silent' })
    const e = encoding.createEncoder()
    encoding.writeVarUint(e, MESSAGE_AWARENESS)
    encoding.writeVarUint8Array(e, awarenessProtocol.encodeAwarenessUpdate(aw, [doc.clientID]))
    silent.send(encoding.toUint8Array(e))
    const s1 = encoding.createEncoder()
    encoding.writeVarUint(s1, MESSAGE_SYNC)
    syncProtocol.writeSyncStep1(s1, doc)
    silent.send(encoding.toUint8Array(s1))
    await until(() => live.provider.awareness.getStates().has(doc.clientID), { message: 'silent client awareness seen' })

    const code = await closed
    expect(code).toBe(1006) // terminated: a dead peer cannot take part in a closing handshake
    expect(pings).toBeGreaterThanOrEqual(1)
    await until(() => !live.provider.awareness.getStates().has(doc.clientID), { message: 'awareness removed' })
    const room = s.server.rooms.get('hb')!
    expect(room.connections.size).toBe(1)
    // The stock client answered every ping meanwhile and is still connected and syncing.
    expect(live.provider.wsconnected).toBe(true)
    const other = await join('hb')
    live.doc.getMap('m').set('still', 'alive')
    await until(() => other.doc.getMap('m').get('still') === 'alive')
    aw.destroy()
  })
})

describe('shutdown', () => {
  it('close() tells clients 1001 "server shutting down", stores everything and frees the port', async () => {
    const srv = await startServer({ tickMs: 60_000 })
    const c = await new RawClient(srv.url, 'bye').sync()
    c.doc.getMap('m').set('last', 'word')
    // A query-awareness round trip: the update was handled, the tick has not run.
    c.send(new Uint8Array([MESSAGE_QUERY_AWARENESS]))
    await until(() => c.framesOfType(MESSAGE_AWARENESS).length > 0)
    const storage = srv.server.storage
    const load = storage.load.bind(storage)
    storage.close = async () => undefined // keep the in-memory store readable after close
    await srv.close()
    await c.closed
    expect(c.closeCode).toBe(1001)
    expect(c.closeReason).toBe('server shutting down')
    const d = new Y.Doc()
    applyStoredDocument(d, await load('bye'))
    expect(d.getMap('m').get('last')).toBe('word')
    await expect(fetch(`http://127.0.0.1:${srv.port}/healthz`)).rejects.toThrow()
  })
})

describe('shutdown during setup', () => {
  it('a connection still authenticating when close() starts is closed with 1001 too', async () => {
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    let authenticating = false
    const srv = await startServer({
      authenticate: async () => {
        authenticating = true
        await gate
        return { id: 'late', anonymous: false }
      },
    })
    const ws = new WebSocket(`${srv.url}/late`)
    const closed = new Promise<{ code: number; reason: string }>((r) => ws.once('close', (code, reason) => r({ code, reason: reason.toString() })))
    await until(() => authenticating)
    const closing = srv.close()
    release()
    expect(await closed).toEqual({ code: 1001, reason: 'server shutting down' })
    await closing
  })
})

describe('http', () => {
  it('GET /healthz answers 200 while serving', async () => {
    s = await startServer()
    const res = await fetch(`http://127.0.0.1:${s.port}/healthz`)
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ status: 'ok' })
  })

  it('GET /metrics exposes yroom_* metrics in Prometheus text format', async () => {
    s = await startServer({ tickMs: 5 })
    const a = await join('metrics')
    const b = await join('metrics')
    a.doc.getMap('m').set('x', 1)
    await until(() => b.doc.getMap('m').get('x') === 1)
    // One malformed message, counted by reason.
    const bad = new WebSocket(`${s.url}/metrics`)
    await new Promise((r) => bad.once('open', r))
    bad.send(new Uint8Array([99]))
    await new Promise((r) => bad.once('close', r))

    const res = await fetch(`http://127.0.0.1:${s.port}/metrics`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/)
    const text = await res.text()
    const value = (name: string) => {
      const m = new RegExp(`^${name.replace(/[{}]/g, '\\$&')} ([0-9.e+-]+)$`, 'm').exec(text)
      return m ? Number(m[1]) : undefined
    }
    expect(value('yroom_rooms_loaded')).toBe(1)
    expect(value('yroom_connections')).toBe(2)
    expect(value('yroom_updates_in_total')).toBeGreaterThanOrEqual(1)
    expect(value('yroom_broadcasts_total')).toBeGreaterThanOrEqual(1)
    expect(value('yroom_bytes_in_total')).toBeGreaterThan(0)
    expect(value('yroom_bytes_out_total')).toBeGreaterThan(0)
    expect(value('yroom_messages_out_total')).toBeGreaterThan(0)
    expect(value('yroom_storage_write_seconds_count')).toBeGreaterThanOrEqual(1)
    expect(text).toMatch(/^yroom_rejected_messages_total\{reason="unknown-message"\} 1$/m)
    expect(text).toMatch(/^# TYPE yroom_storage_write_seconds histogram$/m)
  })

  it('other paths are 404, other methods 405', async () => {
    s = await startServer()
    expect((await fetch(`http://127.0.0.1:${s.port}/nope`)).status).toBe(404)
    expect((await fetch(`http://127.0.0.1:${s.port}/healthz`, { method: 'POST' })).status).toBe(405)
  })
})
