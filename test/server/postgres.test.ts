/**
 * PostgreSQL storage (issue 23, SPEC §11): fencing by the lease epoch, a room served by one
 * server at a time, chunked snapshots, damage reported on load, the --data forms. Against a
 * throwaway PostgreSQL (test/postgres.ts) and real servers with stock clients.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import pg from 'pg'
import WebSocket from 'ws'
import { openStorage } from '../../server/storage/open.js'
import { PostgresStorage } from '../../server/storage/postgres.js'
import { CHUNK_BYTES } from '../../server/storage/postgres-schema.js'
import { LeaseLost, RoomLeased } from '../../server/storage/storage.js'
import { StorageDamaged } from '../../server/storage/integrity.js'
import { defaultPlugins } from '../../server/index.js'
import { CloseCode } from '../../src/shared/protocol/close-codes.js'
import { connectProvider, startServer, until, type ProviderClient, type TestServer } from '../helpers.js'
import { createDatabase, stopSharedPostgres, type PostgresDatabase } from '../postgres.js'

const cleanups: Array<() => unknown> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})
afterAll(() => stopSharedPostgres())

async function database(): Promise<PostgresDatabase> {
  const db = await createDatabase()
  cleanups.push(() => db.drop())
  return db
}

async function storage(url: string, nodeId: string, leaseMs = 5000): Promise<PostgresStorage> {
  const s = (await openStorage(url, { nodeId, leaseMs })) as PostgresStorage
  cleanups.push(() => s.close())
  return s
}

/** Runs SQL on the test database as an operator would (expiring a lease, damaging a row). */
async function sql(url: string, text: string, params: unknown[] = []): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return await client.query(text, params)
  } finally {
    await client.end()
  }
}

const bytes = (...b: number[]) => new Uint8Array(b)

describe('PostgreSQL storage: fencing', () => {
  it('a write under a stale epoch is refused by the database and writes nothing', async () => {
    const db = await database()
    const a = await storage(db.url, 'a')
    const b = await storage(db.url, 'b')
    const lost: string[] = []
    a.onLeaseLost((room) => lost.push(room))
    await a.lease('r')
    expect(await a.append('r', [bytes(1), bytes(2)])).toBe(2)
    // While a holds the lease, b cannot take it (it waits one lease, then gives up).
    const held = await sql(db.url, 'SELECT epoch, holder FROM yroom.rooms WHERE name = $1', ['r'])
    expect(held.rows[0].holder).toBe(a.holder)
    // a stalls (a long GC pause, a network partition): its lease expires, b takes over.
    await sql(db.url, "UPDATE yroom.rooms SET lease_until = now() - interval '1 second' WHERE name = $1", ['r'])
    await b.lease('r')
    const taken = await sql(db.url, 'SELECT epoch, holder FROM yroom.rooms WHERE name = $1', ['r'])
    expect(Number(taken.rows[0].epoch)).toBe(Number(held.rows[0].epoch) + 1)
    expect(taken.rows[0].holder).toBe(b.holder)

    // a wakes up and writes under its old epoch: the append, the compaction and the
    // metadata write are each refused in the same statement or transaction.
    await expect(a.append('r', [bytes(3)])).rejects.toBeInstanceOf(LeaseLost)
    expect(lost).toEqual(['r'])
    const a2 = await storage(db.url, 'a-again')
    await expect(a2.append('r', [bytes(4)])).rejects.toBeInstanceOf(LeaseLost) // no lease at all
    const rows = await sql(db.url, 'SELECT seq FROM yroom.updates WHERE room = $1 ORDER BY seq', ['r'])
    expect(rows.rows.map((r) => Number(r.seq))).toEqual([1, 2])

    // b writes on from where the log stands.
    expect(await b.append('r', [bytes(5)])).toBe(3)
    expect((await b.load('r')).updates.map((u) => [...u])).toEqual([[1], [2], [5]])
  })

  it('a stale compaction and a stale metadata write are refused too', async () => {
    const db = await database()
    const a = await storage(db.url, 'a')
    const b = await storage(db.url, 'b')
    await a.lease('r')
    await a.append('r', [bytes(1)])
    await a.setMeta('r', 'k', bytes(1))
    await sql(db.url, "UPDATE yroom.rooms SET lease_until = now() - interval '1 second' WHERE name = $1", ['r'])
    await b.lease('r')
    await expect(a.compact('r', bytes(9, 9), 1)).rejects.toBeInstanceOf(LeaseLost)
    expect((await b.load('r')).updates.map((u) => [...u])).toEqual([[1]])
    const a3 = await storage(db.url, 'a3')
    await expect(a3.setMeta('r', 'k', bytes(2))).rejects.toBeInstanceOf(LeaseLost)
    expect([...((await b.getMeta('r', 'k')) ?? [])]).toEqual([1])
  })

  it('a lease held elsewhere is not taken: the taker waits one lease, then gets RoomLeased', async () => {
    const db = await database()
    const a = await storage(db.url, 'a', 600)
    const b = await storage(db.url, 'b', 600)
    await a.lease('r')
    const t0 = performance.now()
    await expect(b.lease('r')).rejects.toBeInstanceOf(RoomLeased)
    expect(performance.now() - t0).toBeGreaterThanOrEqual(600)
    // Released (the room unloaded): taken at once.
    await a.release('r')
    await b.lease('r')
  })
})

describe('PostgreSQL storage: rooms nobody wrote', () => {
  it('leave no row once their lease is given up, and epochs never repeat', async () => {
    const db = await database()
    const s = await storage(db.url, 'a')
    await s.lease('empty')
    const first = Number((await sql(db.url, "SELECT epoch FROM yroom.rooms WHERE name = 'empty'")).rows[0].epoch)
    await s.release('empty')
    expect((await sql(db.url, "SELECT count(*)::int AS n FROM yroom.rooms WHERE name = 'empty'")).rows[0].n).toBe(0)
    // Taken again: a later epoch than any before, so a writer from the first lease stays fenced.
    await s.lease('empty')
    expect(Number((await sql(db.url, "SELECT epoch FROM yroom.rooms WHERE name = 'empty'")).rows[0].epoch)).toBeGreaterThan(first)
    // A written room keeps its row (and its log) when released.
    await s.append('empty', [bytes(1)])
    await s.release('empty')
    expect((await sql(db.url, "SELECT holder FROM yroom.rooms WHERE name = 'empty'")).rows).toEqual([{ holder: null }])
  })
})

describe('PostgreSQL storage: the log', () => {
  it('a snapshot larger than a chunk is stored in chunks and loads whole', async () => {
    const db = await database()
    const s = await storage(db.url, 'a')
    await s.lease('big')
    const state = new Uint8Array(CHUNK_BYTES * 2 + 12345)
    for (let i = 0; i < state.length; i++) state[i] = (i * 31) & 0xff
    await s.append('big', [bytes(1), bytes(2)])
    await s.compact('big', state, 2)
    await s.append('big', [bytes(3)])
    const chunks = await sql(db.url, 'SELECT count(*)::int AS n, max(length(data))::int AS largest FROM yroom.snapshots WHERE room = $1', ['big'])
    expect(chunks.rows[0]).toEqual({ n: 3, largest: CHUNK_BYTES })
    const loaded = await s.load('big')
    expect(loaded.seq).toBe(3)
    expect(loaded.updates.length).toBe(2)
    expect(Buffer.compare(Buffer.from(loaded.updates[0]), Buffer.from(state))).toBe(0)
    expect(await s.size('big')).toBe(2)
  })

  it('damage is reported on load: a missing entry and a corrupt one, with the room named', async () => {
    const db = await database()
    const s = await storage(db.url, 'a')
    await s.lease('d')
    await s.append('d', [bytes(1), bytes(2), bytes(3), bytes(4)])
    await sql(db.url, 'DELETE FROM yroom.updates WHERE room = $1 AND seq = 2', ['d'])
    await sql(db.url, "UPDATE yroom.updates SET data = '\\x09'::bytea WHERE room = $1 AND seq = 4", ['d'])
    const err = await s.load('d').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(StorageDamaged)
    expect((err as StorageDamaged).room).toBe('d')
    expect((err as StorageDamaged).summary).toMatch(/entry 2 missing/)
    expect((err as StorageDamaged).summary).toMatch(/entry 4 corrupt/)
  })

  it('an unknown --data form is refused, naming the forms that work', async () => {
    await expect(openStorage('redis://127.0.0.1:6379')).rejects.toThrow(/unknown --data form.*postgres:\/\//)
  })

  it('GET /cluster answers 404 on embedded storage: it has no leases', async () => {
    const s = await startServer({ storage: ':memory:' })
    cleanups.push(() => s.close())
    const res = await fetch(`${s.url.replace('ws://', 'http://')}/cluster`)
    expect(res.status).toBe(404)
    expect(((await res.json()) as { error: string }).error).toMatch(/no shared storage/)
  })

  it('tables live in the schema the URL names', async () => {
    const db = await database()
    const s = await storage(`${db.url}?schema=tenant_a`, 'a')
    await s.lease('r')
    await s.append('r', [bytes(1)])
    const t = await sql(db.url, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'tenant_a' ORDER BY table_name")
    expect(t.rows.map((r) => r.table_name)).toEqual(['meta', 'migrations', 'rooms', 'snapshots', 'updates'])
  })
})

describe('PostgreSQL storage: servers and stock clients', () => {
  async function server(url: string, nodeId: string): Promise<TestServer> {
    const s = await startServer({ storage: url, nodeId, leaseMs: 1500, plugins: defaultPlugins(), idleShutdownMs: 60_000 })
    cleanups.push(() => s.close())
    return s
  }
  async function client(url: string, room: string): Promise<ProviderClient> {
    const c = await connectProvider(url, room)
    cleanups.push(() => c.destroy())
    return c
  }
  const text = (c: ProviderClient) => c.doc.getText('t').toString()

  it('a room is served by one server at a time; a stalled one is fenced off when another takes over', async () => {
    const db = await database()
    const a = await server(db.url, 'node-a')
    const b = await server(db.url, 'node-b')
    const onA = await client(a.url, 'shared')
    onA.doc.getText('t').insert(0, 'from a')
    await until(() => a.server.rooms.get('shared')?.doc.getText('t').toString() === 'from a')
    await a.server.rooms.get('shared')!.flush()

    // b refuses the room while a holds it (1013: try again).
    const closed = new Promise<number>((resolve) => {
      const ws = new WebSocket(`${b.url}/shared`)
      ws.on('close', (code) => resolve(code))
      cleanups.push(() => ws.terminate())
    })
    expect(await closed).toBe(CloseCode.TRY_AGAIN_LATER)

    // a stalls: its lease runs out in the database; b takes the room over from storage.
    await sql(db.url, "UPDATE yroom.rooms SET lease_until = now() - interval '1 second' WHERE name = 'shared'")
    const onB = await client(b.url, 'shared')
    await until(() => text(onB) === 'from a', { message: 'b loaded what a stored' })
    // a accepts one more write from its client, but cannot store it: its room stops and
    // its clients are sent away (1013), and nothing a wrote after losing the lease is stored.
    const codes: number[] = []
    onA.provider.on('connection-close', (e: CloseEvent | null) => e && codes.push(e.code))
    onA.provider.shouldConnect = false
    onA.doc.getText('t').insert(0, 'stale ')
    await until(() => codes.includes(CloseCode.TRY_AGAIN_LATER), { message: "a's client sent away", timeout: 10_000 })
    const stored = await sql(db.url, "SELECT count(*)::int AS n FROM yroom.updates u JOIN yroom.rooms r ON r.name = u.room WHERE u.room = 'shared'")
    onB.doc.getText('t').insert(6, ' and b')
    await until(() => b.server.rooms.get('shared')?.doc.getText('t').toString() === 'from a and b', { message: 'b received the write' })
    await b.server.rooms.get('shared')!.flush()
    const after = await sql(db.url, "SELECT count(*)::int AS n FROM yroom.updates WHERE room = 'shared'")
    expect(after.rows[0].n).toBe(stored.rows[0].n + 1)
    const late = await client(b.url, 'shared')
    await until(() => text(late) === 'from a and b', { message: `late joiner holds ${text(late)}` })
    // What the database holds: never a's write made after it lost the lease.
    const log = await sql(db.url, "SELECT data FROM yroom.updates WHERE room = 'shared' ORDER BY seq")
    const fromDb = new Y.Doc()
    for (const r of log.rows) Y.applyUpdate(fromDb, r.data as Uint8Array)
    expect(fromDb.getText('t').toString()).toBe('from a and b')
  })

  it('what stock clients wrote survives a restart of the server', async () => {
    const db = await database()
    let s = await server(db.url, 'node-a')
    const c = await client(s.url, 'doc')
    c.doc.getText('t').insert(0, 'persisted')
    await until(() => s.server.rooms.get('doc')?.doc.getText('t').toString() === 'persisted')
    // The leases it holds: GET /cluster and /metrics.
    const http = s.url.replace('ws://', 'http://')
    const cluster = (await (await fetch(`${http}/cluster`)).json()) as { node: string; rooms: Array<{ name: string; epoch: number }> }
    expect(cluster.node).toMatch(/^node-a\//)
    const row = await sql(db.url, "SELECT epoch FROM yroom.rooms WHERE name = 'doc'")
    expect(cluster.rooms).toEqual([{ name: 'doc', epoch: Number(row.rows[0].epoch) }])
    expect(await (await fetch(`${http}/metrics`)).text()).toMatch(/^yroom_room_leases_held 1$/m)
    c.destroy()
    await s.close()
    s = await server(db.url, 'node-a')
    const again = await client(s.url, 'doc')
    await until(() => text(again) === 'persisted', { message: 'loaded from PostgreSQL' })
  })
})
