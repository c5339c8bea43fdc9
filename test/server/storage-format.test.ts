/**
 * How compacted state is stored (issue 25): a room's compacted snapshot is stored in Yjs
 * update format V2, and on LevelDB the space of the log entries a compaction replaced is
 * reclaimed on disk. Snapshots stored before (V1, header version 1; PostgreSQL rows with the
 * default snapshot_encoding) keep loading, and `yroom repair` keeps a V2 snapshot as it is.
 * Real servers, real LevelDB directories and a real PostgreSQL database.
 */
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { ClassicLevel } from 'classic-level'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { LevelStorage, openStorage, type Storage } from '../../server/index.js'
import { repairDataDir } from '../../server/storage/repair.js'
import { backendCases, leveldb, postgresEnabled, postgres, type Backend } from '../backends.js'
import { closeOnce, connectProvider, mulberry32, RawClient, startServer, storedDoc, until, type TestServer } from '../helpers.js'

const cleanups: Array<() => Promise<unknown>> = []
const closers: Array<() => Promise<unknown> | void> = []
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c()
})
afterAll(async () => {
  for (const c of cleanups.splice(0)) await c()
})

async function data(backend: Backend): Promise<string> {
  const d = await backend.data()
  cleanups.push(d.cleanup)
  return d.data
}

async function server(storage: string, options = {}): Promise<TestServer> {
  return closeOnce(await startServer({ storage, idleShutdownMs: 20, ...options }), closers)
}

async function opened(path: string): Promise<Storage> {
  return closeOnce(await openStorage(path), closers)
}

async function dirBytes(path: string): Promise<number> {
  let n = 0
  for (const f of await readdir(path)) n += (await stat(join(path, f))).size
  return n
}

/** Random text (it does not compress, so disk bytes measure what is stored). */
function randomText(rand: () => number, n: number): string {
  let s = ''
  for (let i = 0; i < n; i++) s += String.fromCharCode(97 + Math.floor(rand() * 26))
  return s
}

/**
 * Types a long history into a room through a real client: each transaction inserts 2,000
 * characters and deletes 1,900, so the log grows far past what the document keeps.
 */
async function typeHistory(s: TestServer, room: string, rounds: number): Promise<Y.Doc> {
  const rand = mulberry32(25)
  const c = await new RawClient(s.url, room).sync()
  const text = c.doc.getText('t')
  for (let i = 0; i < rounds; i++) {
    c.doc.transact(() => {
      text.insert(Math.floor(rand() * (text.length + 1)), randomText(rand, 2000))
      const at = Math.floor(rand() * (text.length - 1900))
      text.delete(at, 1900)
    })
    // Separate ticks: separate log entries.
    await until(() => s.server.rooms.get(room)?.doc.getText('t').length === text.length)
  }
  await until(() => s.server.rooms.get(room)?.doc.getText('t').toString() === text.toString())
  c.ws.close()
  await c.closed
  await until(() => s.server.rooms.get(room) === undefined, { message: 'the room unloaded' })
  return c.doc
}

/** The raw value of a room's first log entry in a closed LevelDB directory. */
async function firstEntry(path: string, room: string): Promise<Uint8Array> {
  const db = new ClassicLevel<string, Uint8Array>(path, { keyEncoding: 'utf8', valueEncoding: 'view' })
  await db.open()
  try {
    const [first] = await db.iterator({ gte: `u\u0000${room}\u0000`, lt: `u\u0000${room}\u0000\uffff`, limit: 1 }).all()
    return first[1]
  } finally {
    await db.close()
  }
}

describe('LevelDB: compacted state on disk', () => {
  it('a long replaced history takes about its V2 state on disk once the room unloaded and the server stopped', { timeout: 60_000 }, async () => {
    const path = await data(leveldb)
    const s = await server(path)
    const doc = await typeHistory(s, 'long', 150)
    await s.close()
    const v1 = Y.encodeStateAsUpdate(doc).byteLength
    const v2 = Y.encodeStateAsUpdateV2(doc).byteLength
    const logBytes = 150 * 2000 // at least: every inserted character went through the log
    const disk = await dirBytes(path)
    // LevelDB's own files (CURRENT, MANIFEST, LOG, a table's index) and the head record take a
    // few KB beside the snapshot. Before: the replaced log stayed on disk, with a V1 snapshot.
    expect(v2).toBeLessThan(v1)
    expect(disk).toBeLessThan(v2 + 24 * 1024)
    expect(disk).toBeLessThan(logBytes / 4)
    // The snapshot is stored in V2: header version 2, payload = the V2 state.
    const entry = await firstEntry(path, 'long')
    expect(entry[8]).toBe(2)
    expect(entry.byteLength - 18).toBeLessThan(v1)

    // And it loads: through the storage API and through a server.
    const st = await opened(path)
    const stored = await st.load('long')
    expect(stored.v2).toEqual([true])
    expect(storedDoc(stored).getText('t').toString()).toBe(doc.getText('t').toString())
    await st.close()
    const s2 = await server(path)
    const c = await connectProvider(s2.url, 'long')
    closers.push(() => c.destroy())
    expect(c.doc.getText('t').toString()).toBe(doc.getText('t').toString())
  })

  it('an unchanged room whose snapshot is V2 writes nothing when it unloads again', async () => {
    const path = await data(leveldb)
    const s = await server(path)
    const a = await connectProvider(s.url, 'same')
    a.doc.getText('t').insert(0, 'hello')
    await until(() => s.server.rooms.get('same')?.doc.getText('t').toString() === 'hello')
    a.destroy()
    await until(() => s.server.rooms.get('same') === undefined)
    await s.close()
    const before = await firstEntry(path, 'same')
    expect(before[8]).toBe(2)
    const s2 = await server(path)
    const b = await connectProvider(s2.url, 'same')
    expect(b.doc.getText('t').toString()).toBe('hello')
    b.destroy()
    await until(() => s2.server.rooms.get('same') === undefined)
    await s2.close()
    expect(await firstEntry(path, 'same')).toEqual(before)
  })

  it('a V1 snapshot and V1 entries (the format before) load; the next compaction stores V2', async () => {
    const path = await data(leveldb)
    const old = new Y.Doc()
    old.getText('t').insert(0, 'written by an older yroom')
    const st = new LevelStorage(path)
    await st.open()
    const seq = await st.append('old', [Y.encodeStateAsUpdate(old)])
    await st.compact('old', Y.encodeStateAsUpdate(old), seq) // encoding defaults to V1, as before
    old.getMap('m').set('k', 1)
    await st.append('old', [Y.encodeStateAsUpdate(old)])
    await st.close()
    expect((await firstEntry(path, 'old'))[8]).toBe(1)

    const s = await server(path)
    const c = await connectProvider(s.url, 'old')
    expect(c.doc.getText('t').toString()).toBe('written by an older yroom')
    expect(c.doc.getMap('m').get('k')).toBe(1)
    c.doc.getText('t').insert(0, '> ')
    await until(() => s.server.rooms.get('old')?.doc.getText('t').toString() === '> written by an older yroom')
    c.destroy()
    await until(() => s.server.rooms.get('old') === undefined)
    await s.close()
    expect((await firstEntry(path, 'old'))[8]).toBe(2)
    const s2 = await server(path)
    const d = await connectProvider(s2.url, 'old')
    closers.push(() => d.destroy())
    expect(d.doc.getText('t').toString()).toBe('> written by an older yroom')
  })

  it('yroom repair keeps a V2 snapshot as V2 and the room loads after it', async () => {
    const path = await data(leveldb)
    const doc = new Y.Doc()
    doc.getText('t').insert(0, 'base')
    const st = new LevelStorage(path)
    await st.open()
    const seq = await st.append('r', [Y.encodeStateAsUpdate(doc)])
    await st.compact('r', Y.encodeStateAsUpdateV2(doc), seq, 'v2')
    await st.append('r', [new Uint8Array([0, 0])])
    await st.close()
    // Corrupt the entry after the snapshot: repair drops it and keeps the snapshot.
    const db = new ClassicLevel<string, Uint8Array>(path, { keyEncoding: 'utf8', valueEncoding: 'view' })
    await db.open()
    const key = `u\u0000r\u0000${(seq + 1).toString(16).padStart(16, '0')}`
    const v = (await db.get(key))!
    v[v.length - 1] ^= 0xff
    await db.put(key, v)
    await db.close()
    const report = await repairDataDir(path)
    expect(report.rooms).toMatchObject([{ room: 'r', status: 'repaired', kept: 1 }])
    expect((await firstEntry(path, 'r'))[8]).toBe(2)
    const st2 = await opened(path)
    const stored = await st2.load('r')
    expect(stored.v2).toEqual([true])
    expect(storedDoc(stored).getText('t').toString()).toBe('base')
  })
})

describe.each(backendCases)('%s: snapshot encodings', (_name, backend) => {
  it('the server compacts into V2; a V1 snapshot stored before still loads', { timeout: 30_000 }, async () => {
    const url = await data(backend)
    // A V1 snapshot, as every earlier version stored it.
    const st = await opened(url)
    await st.lease?.('v1room')
    const old = new Y.Doc()
    old.getText('t').insert(0, 'v1 snapshot')
    const seq = await st.append('v1room', [Y.encodeStateAsUpdate(old)])
    await st.compact('v1room', Y.encodeStateAsUpdate(old), seq)
    expect((await st.load('v1room')).v2).toBeUndefined()
    await st.release?.('v1room')
    await st.close()

    const s = await server(url, { compactAfterEntries: 5, compactQuietMs: 0, tickMs: 0 })
    const c = await connectProvider(s.url, 'v1room')
    expect(c.doc.getText('t').toString()).toBe('v1 snapshot')
    for (let i = 0; i < 8; i++) {
      c.doc.getArray('n').push([i])
      await until(() => s.server.rooms.get('v1room')!.doc.getArray('n').length === i + 1)
    }
    await s.server.rooms.get('v1room')!.flush()
    // Compacted while live: the snapshot is now V2, later entries V1.
    const live = await s.server.storage.load('v1room')
    expect(live.v2?.[0]).toBe(true)
    expect(live.v2?.slice(1).every((x) => !x)).toBe(true)
    const d = storedDoc(live)
    expect(d.getText('t').toString()).toBe('v1 snapshot')
    expect(d.getArray('n').length).toBe(8)
    c.destroy()
    await until(() => s.server.rooms.get('v1room') === undefined)
    await s.close()

    const s2 = await server(url)
    const e = await connectProvider(s2.url, 'v1room')
    closers.push(() => e.destroy())
    expect(e.doc.getText('t').toString()).toBe('v1 snapshot')
    expect(e.doc.getArray('n').toArray()).toEqual([0, 1, 2, 3, 4, 5, 6, 7])
  })
})

describe.runIf(postgresEnabled)('postgres: snapshot size', () => {
  it('the stored snapshot of a long replaced history is its V2 state', { timeout: 60_000 }, async () => {
    const url = await data(postgres)
    const s = await server(url)
    const doc = await typeHistory(s, 'long', 60)
    await s.close()
    const st = await opened(url)
    await st.lease?.('long')
    const stored = await st.load('long')
    expect(stored.v2).toEqual([true])
    expect(stored.updates[0].byteLength).toBe(Y.encodeStateAsUpdateV2(doc).byteLength)
    expect(storedDoc(stored).getText('t').toString()).toBe(doc.getText('t').toString())
    await st.release?.('long')
  })
})
