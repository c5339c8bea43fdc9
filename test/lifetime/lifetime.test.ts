import { afterEach, describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import * as Y from 'yjs'
import WebSocket from 'ws'
import { defaultPlugins } from '../../plugins/index.js'
import type { ServerOptions } from '../../server/index.js'
import { connectProvider, startServer, until, type ProviderClient, type TestServer } from '../helpers.js'
import { startChildServer } from '../child-server.js'
import { backendCases, withLeases, type Backend } from '../backends.js'

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

async function server(options: ServerOptions = {}, reconnectGraceMs = 0): Promise<TestServer> {
  const s = await startServer({ plugins: defaultPlugins({ reconnectGraceMs }), tickMs: 5, ...options })
  cleanups.push(() => s.close())
  return s
}

async function client(url: string, room: string, opts: Parameters<typeof connectProvider>[2] = {}): Promise<ProviderClient> {
  const c = await connectProvider(url, room, opts)
  cleanups.push(() => c.destroy())
  return c
}

/** Instantiates models[key], owned by `doc` unless `owned` is false. */
function instantiate(doc: Y.Doc, key: string, { owned = true, ephemeral = true, prevent = false } = {}): void {
  doc.transact(() => {
    const m = new Y.Map<unknown>()
    const meta = new Y.Map<unknown>()
    meta.set('ownerID', owned ? doc.clientID : -1)
    meta.set('destroyWhenOwnerOrLastClientLeaves', ephemeral)
    if (prevent) meta.set('preventOwnershipTakeover', true)
    m.set('$meta', meta)
    m.set('v', key)
    doc.getMap('models').set(key, m)
  })
}

const has = (doc: Y.Doc, key: string) => doc.getMap('models').has(key)
/** Fresh storage of `backend` (its storage / --data value), removed after the test. */
const tmp = async (backend: Backend) => {
  const d = await backend.data()
  cleanups.unshift(d.cleanup) // after the servers on it stopped (cleanups run in reverse)
  return d.data
}

describe('lifetime flags (SPEC §6)', () => {
  it('owner leaves cleanly: its ephemeral models vanish everywhere, persistent ones stay', async () => {
    const s = await server()
    const owner = await client(s.url, 'a')
    const other = await client(s.url, 'a')
    instantiate(owner.doc, 'eph')
    instantiate(owner.doc, 'per', { ephemeral: false })
    await until(() => has(other.doc, 'eph') && has(other.doc, 'per'))
    owner.provider.destroy()
    await until(() => !has(other.doc, 'eph'), { message: 'ephemeral model removed' })
    expect(has(other.doc, 'per')).toBe(true)
  })

  it('owner socket dies (heartbeat timeout): its ephemeral models vanish', async () => {
    const s = await server({ heartbeatMs: 100 })
    const other = await client(s.url, 'b')
    // A raw socket that never answers pings, writing as an owner.
    const doc = new Y.Doc()
    instantiate(doc, 'eph')
    const ws = new WebSocket(`${s.url}/b`, { autoPong: false })
    cleanups.push(() => ws.terminate())
    await new Promise((r) => ws.once('open', r))
    const { writeUpdate } = await import('y-protocols/sync')
    const enc = (await import('lib0/encoding'))
    const e = enc.createEncoder()
    enc.writeVarUint(e, 0)
    writeUpdate(e, Y.encodeStateAsUpdate(doc))
    ws.send(enc.toUint8Array(e))
    await until(() => has(other.doc, 'eph'))
    await until(() => !has(other.doc, 'eph'), { message: 'model removed after heartbeat timeout' })
  })

  it('owner process killed: its ephemeral models vanish', async () => {
    const s = await server()
    const other = await client(s.url, 'c')
    const script = fileURLToPath(new URL('./client-process.ts', import.meta.url))
    const proc = spawn(process.execPath, ['--import', 'tsx', script, s.url, 'c', 'victim'], { stdio: ['ignore', 'pipe', 'inherit'] })
    cleanups.push(() => void proc.kill('SIGKILL'))
    await new Promise<void>((resolve) => proc.stdout!.on('data', (d) => String(d).includes('ready') && resolve()))
    await until(() => has(other.doc, 'victim'))
    proc.kill('SIGKILL')
    await until(() => !has(other.doc, 'victim'), { message: 'killed client model removed' })
  })

  it('last client leaves: unowned ephemeral models vanish; persistent ones stay', async () => {
    const s = await server()
    const a = await client(s.url, 'd')
    const b = await client(s.url, 'd')
    instantiate(a.doc, 'shared', { owned: false })
    instantiate(a.doc, 'kept', { owned: false, ephemeral: false })
    await until(() => has(b.doc, 'shared'))
    a.provider.destroy()
    // One client is still here: the unowned ephemeral model stays.
    await until(() => s.server.connections.size === 1)
    expect(has(b.doc, 'shared')).toBe(true)
    b.provider.destroy()
    const doc = s.server.rooms.get('d')!.doc
    await until(() => !doc.getMap('models').has('shared'))
    expect(doc.getMap('models').has('kept')).toBe(true)
  })

  it('reconnect within the grace period keeps models; after it they are gone', async () => {
    const s = await server({}, 300)
    const owner = await client(s.url, 'e')
    const other = await client(s.url, 'e')
    instantiate(owner.doc, 'eph')
    await until(() => has(other.doc, 'eph'))
    owner.provider.disconnect()
    owner.provider.connect()
    await new Promise((r) => owner.provider.once('sync', r))
    // Well past the grace period, the model is still there: the reconnect rebound its id.
    await new Promise((r) => setTimeout(r, 500))
    expect(has(other.doc, 'eph')).toBe(true)
    owner.provider.disconnect()
    const left = Date.now()
    await until(() => !has(other.doc, 'eph'))
    expect(Date.now() - left).toBeGreaterThanOrEqual(250)
  })

  it.each(backendCases)('persistent models survive shutdown and restart; ephemeral ones survive neither (%s)', async (_name, backend) => {
    const dir = await tmp(backend)
    let s = await startServer({ storage: dir, plugins: defaultPlugins(), tickMs: 5, idleShutdownMs: 50 })
    const a = await connectProvider(s.url, 'f')
    instantiate(a.doc, 'per', { ephemeral: false })
    instantiate(a.doc, 'eph')
    instantiate(a.doc, 'unowned-eph', { owned: false })
    await until(() => s.server.rooms.get('f')?.doc.getMap('models').size === 3)
    a.destroy()
    await until(() => s.server.rooms.get('f') === undefined, { message: 'room unloaded' })
    await s.close()
    s = await startServer({ storage: dir, plugins: defaultPlugins(), tickMs: 5 })
    cleanups.push(() => s.close())
    const b = await client(s.url, 'f')
    expect(has(b.doc, 'per')).toBe(true)
    expect(has(b.doc, 'eph')).toBe(false)
    expect(has(b.doc, 'unowned-eph')).toBe(false)
  })

  it.each(backendCases)('after kill -9 of the server, no client ever sees an ephemeral model of a dead session (%s)', async (_name, backend) => {
    const dir = await tmp(backend)
    let child = await startChildServer(['--data', dir, '--tick-ms', '5'])
    cleanups.push(() => void child.proc.kill('SIGKILL'))
    const a = await connectProvider(child.url, 'g')
    instantiate(a.doc, 'eph')
    instantiate(a.doc, 'per', { ephemeral: false })
    const watcher = await connectProvider(child.url, 'g')
    await until(() => has(watcher.doc, 'eph') && has(watcher.doc, 'per'))
    await child.kill('SIGKILL')
    a.destroy()
    watcher.destroy()
    child = await startChildServer(['--data', dir, '--tick-ms', '5'])
    cleanups.push(() => void child.proc.kill('SIGKILL'))
    const fresh = new Y.Doc()
    const seen: string[] = []
    fresh.on('update', () => seen.push(JSON.stringify(fresh.getMap('models').toJSON())))
    const c = await client(child.url, 'g', { doc: fresh })
    expect(has(c.doc, 'per')).toBe(true)
    expect(has(c.doc, 'eph')).toBe(false)
    expect(seen.some((s) => s.includes('"eph"'))).toBe(false)
  })

  it('a principal re-takes its persistent model with a new client id; another principal cannot', async () => {
    const s = await server({ authenticate: ({ token }) => ({ id: token ?? 'anon', anonymous: !token }) })
    const alice1 = await client(s.url, 'h', { params: { token: 'alice' } })
    instantiate(alice1.doc, 'doc', { ephemeral: false, prevent: true })
    const srv = () => s.server.rooms.get('h')!.doc.getMap('models').get('doc') as Y.Map<unknown>
    await until(() => srv() !== undefined)
    alice1.provider.destroy()
    await until(() => s.server.connections.size === 0)
    const bob = await client(s.url, 'h', { params: { token: 'bob' } })
    const bobMeta = (bob.doc.getMap('models').get('doc') as Y.Map<unknown>).get('$meta') as Y.Map<unknown>
    bobMeta.set('ownerID', bob.doc.clientID)
    ;(bob.doc.getMap('models').get('doc') as Y.Map<unknown>).set('v', 'bob was here')
    await until(() => bobMeta.get('ownerID') === alice1.doc.clientID, { message: 'bob rolled back' })
    expect(srv().get('v')).toBe('doc')
    const alice2 = await client(s.url, 'h', { params: { token: 'alice' } })
    expect(alice2.doc.clientID).not.toBe(alice1.doc.clientID)
    const m = alice2.doc.getMap('models').get('doc') as Y.Map<unknown>
    alice2.doc.transact(() => {
      ;(m.get('$meta') as Y.Map<unknown>).set('ownerID', alice2.doc.clientID)
      m.set('v', 'alice again')
    })
    await until(() => srv().get('v') === 'alice again')
    expect((srv().get('$meta') as Y.Map<unknown>).get('ownerID')).toBe(alice2.doc.clientID)
  })
})

/** In-memory storage (the default) and every persistent backend. */
const storages: Array<readonly [string, () => Promise<string>]> = [['memory', async () => ':memory:'], ...backendCases.map(([name, b]) => [name, () => tmp(b)] as const)]

describe.each(storages)('backend edits without locks (SPEC §6), %s storage', (_name, storage) => {
  it('rooms.edit reaches live clients at once and unloaded rooms on their next load', async () => {
    const s = await server({ storage: await storage() })
    const c = await client(s.url, 'live')
    await s.server.rooms.edit('live', (doc) => doc.getMap('models').set('fromBackend', 1))
    await until(() => c.doc.getMap('models').get('fromBackend') === 1)
    expect(s.server.rooms.get('cold')).toBeUndefined()
    await s.server.rooms.edit('cold', (doc) => doc.getMap('models').set('x', 42))
    expect(s.server.rooms.get('cold')).toBeUndefined()
    const late = await client(s.url, 'cold')
    expect(late.doc.getMap('models').get('x')).toBe(42)
  })

  it('interleaved backend and client writers lose nothing', async () => {
    const s = await server({ storage: await storage() })
    const clients = await Promise.all([0, 1, 2].map(() => client(s.url, 'busy')))
    const N = 40
    const writes: Promise<unknown>[] = []
    for (let i = 0; i < N; i++) {
      clients.forEach((c, k) => c.doc.getMap(`c${k}`).set(`k${i}`, i))
      writes.push(s.server.rooms.edit('busy', (doc) => doc.getMap('backend').set(`b${i}`, i)))
      writes.push(s.server.rooms.edit('busy', (doc) => doc.getArray('log').push([i])))
    }
    await Promise.all(writes)
    const srv = s.server.rooms.get('busy')!.doc
    await until(() => clients.every((_, k) => srv.getMap(`c${k}`).size === N))
    expect(srv.getMap('backend').size).toBe(N)
    expect(srv.getArray('log').length).toBe(N)
    for (const c of clients) await until(() => c.doc.getMap('backend').size === N && c.doc.getArray('log').length === N)
    // And the stored log holds it all: unload and read back.
    for (const c of clients) c.provider.destroy()
    await until(() => s.server.connections.size === 0)
    await s.server.rooms.unload('busy')
    await s.server.rooms.read('busy', (doc) => {
      expect(doc.getMap('backend').size).toBe(N)
      expect(doc.getArray('log').length).toBe(N)
      for (let k = 0; k < 3; k++) expect(doc.getMap(`c${k}`).size).toBe(N)
    })
  })

  it('concurrent edits to an unloaded room append without locks and compaction keeps them', async () => {
    const s = await server({ storage: await storage() })
    await Promise.all(Array.from({ length: 30 }, (_, i) => s.server.rooms.edit('offline-room', (doc) => doc.getMap('m').set(`k${i}`, i))))
    await s.server.rooms.read('offline-room', (doc) => expect(doc.getMap('m').size).toBe(30))
    const c = await client(s.url, 'offline-room')
    expect(c.doc.getMap('m').size).toBe(30)
  })
})

describe.each(storages)('compaction of logs written while unloaded, %s storage', (_name, storage) => {
  it('backend edits to an unloaded room keep its log short', async () => {
    const s = await server({ storage: await storage(), compactAfterEntries: 10 })
    for (let i = 0; i < 35; i++) await s.server.rooms.edit('appended', (doc) => doc.getMap('m').set(`k${i}`, i))
    expect(await s.server.storage.size('appended')).toBeLessThanOrEqual(11)
    await s.server.rooms.read('appended', (doc) => expect(doc.getMap('m').size).toBe(35))
  })

  it('a room loaded from a long log compacts it', async () => {
    const s = await server({ storage: await storage(), compactAfterEntries: 10 })
    const d = new Y.Doc()
    const updates: Uint8Array[] = []
    d.on('update', (u: Uint8Array) => updates.push(u))
    for (let i = 0; i < 40; i++) d.getMap('m').set(`k${i}`, i)
    // Written directly, under the room's lease where the backend has leases (as the server writes).
    await withLeases(s.server.storage).append('long', updates)
    const c = await client(s.url, 'long')
    expect(c.doc.getMap('m').size).toBe(40)
    let size = Number.POSITIVE_INFINITY
    await until(() => {
      void s.server.storage.size('long').then((n) => (size = n))
      return size === 1
    })
  })
})
