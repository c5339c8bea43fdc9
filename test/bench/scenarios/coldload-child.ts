/**
 * Scenario 5 worker, one job per process (`--expose-gc`), so every measurement starts in a
 * fresh process and a runaway load can be stopped by the harness with a timeout.
 *
 *   prepare:  writes a room with M models and an H-update history to LevelDB three times:
 *             `server`: as a running yroom stores it (one merged entry per tick of 50 updates,
 *             compacted once the log has more than `compactAfterEntries` entries);
 *             `log`: H separate entries (appended one by one by backend writers, never compacted);
 *             `compacted`: the one entry the server writes at unload. Plus the state.
 *             With `pg` (the maintenance URL of a PostgreSQL server), the same three again,
 *             each in a database of its own (`cold_server`, `cold_log`, `cold_compacted`).
 *   measure:  one timing. `server` / `log` / `compacted`: the server's own registry loads the room
 *             cold (`rooms.open`: lease, storage read, merge, apply, plugins' onLoad), from a copy
 *             of the LevelDB directory, or with `pg:` from a copy of the database
 *             (`CREATE DATABASE … TEMPLATE`), made before the clock starts. `floor`: `Y.applyUpdate`
 *             of the same state in memory. `mergeApply`: Y.mergeUpdates + applyUpdate of the
 *             H updates in memory (no storage), to tell storage cost from merge cost.
 * Each measure first runs the same path on a small room, so JIT compilation is not timed.
 */
import * as Y from 'yjs'
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import pg from 'pg'
import { createServer } from '../../../server/index.js'
import { LevelStorage } from '../../../server/storage/leveldb.js'
import { openStorage } from '../../../server/storage/open.js'
import type { Storage } from '../../../server/storage/storage.js'
import { resolveOptions } from '../../../server/options.js'
import { mergeTick } from '../../../server/codec/tick-merge.js'
import { defaultPlugins } from '../../../plugins/index.js'
import { makeHistory, stateOf } from './history.js'
import { profiled } from '../lib/inspector-profile.js'

/** `pg`: the maintenance URL of the scenario's PostgreSQL server (postgres://…/postgres). */
export type ColdJob =
  | { job: 'prepare'; dir: string; models: number; updates: number; pg?: string }
  | { job: 'measure'; dir: string; what: ColdWhat; profileFile?: string; pg?: string }

export type StoredForm = 'server' | 'log' | 'compacted'
export type ColdWhat = 'floor' | 'mergeApply' | StoredForm | `pg:${StoredForm}`

export interface Prepared {
  models: number
  updates: number
  stateBytes: number
  logBytes: number
  /** Entries of the `server` form. */
  serverEntries: number
  tickUpdates: number
}

const TICK_UPDATES = 50

const ROOM = 'cold-room'
const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined)

/** A LevelDB directory, or a PostgreSQL database URL; opened with the room's lease held, as a server writes it. */
async function openStore(where: string): Promise<Storage> {
  if (where.startsWith('postgres://')) {
    const s = await openStorage(where, { nodeId: 'bench-cold-prepare' })
    await s.lease?.(ROOM)
    return s
  }
  const s = new LevelStorage(where)
  await s.open()
  return s
}

async function store(where: string, updates: Uint8Array[]): Promise<void> {
  const s = await openStore(where)
  for (let i = 0; i < updates.length; i += 1000) await s.append(ROOM, updates.slice(i, i + 1000))
  await s.close()
}

/** Stores `updates` as Room does, in each of `wheres`: one merged entry per tick, compaction past the limit. */
async function storeAsServer(wheres: string[], updates: Uint8Array[]): Promise<number> {
  const stores = await Promise.all(wheres.map(openStore))
  const doc = new Y.Doc()
  const limit = resolveOptions({}).compactAfterEntries
  let entries = 0
  for (let i = 0; i < updates.length; i += TICK_UPDATES) {
    // The server's own tick merge (server/codec/tick-merge.ts), so the log is what a room writes.
    const merged = mergeTick(updates.slice(i, i + TICK_UPDATES).map((update) => ({ update, layout: null })))
    const seqs = await Promise.all(stores.map((s) => s.append(ROOM, [merged])))
    entries++
    Y.applyUpdate(doc, merged)
    if (entries > limit) {
      // As Room.compactNow: the snapshot in Yjs's V2 encoding when the store takes it.
      const v2 = stores.every((s) => s.snapshotEncoding === 'v2')
      const state = v2 ? Y.encodeStateAsUpdateV2(doc) : Y.encodeStateAsUpdate(doc)
      await Promise.all(stores.map((s, k) => s.compact(ROOM, state, seqs[k], v2 ? 'v2' : 'v1')))
      entries = 1
    }
  }
  for (const s of stores) await s.close()
  doc.destroy()
  return entries
}

const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`
/** The URL of database `name` on the server of maintenance URL `admin`. */
const dbUrl = (admin: string, name: string) => {
  const u = new URL(admin)
  u.pathname = `/${encodeURIComponent(name)}`
  return u.toString()
}

async function adminQuery(admin: string, sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: admin })
  await c.connect()
  try {
    await c.query(sql)
  } finally {
    await c.end()
  }
}

/** Database `name` (re)created empty; its URL. */
async function freshDatabase(admin: string, name: string): Promise<string> {
  await adminQuery(admin, `DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`)
  await adminQuery(admin, `CREATE DATABASE ${quoteIdent(name)}`)
  return dbUrl(admin, name)
}

async function readLog(dir: string): Promise<Uint8Array[]> {
  const s = new LevelStorage(dir)
  await s.open()
  const { updates } = await s.load(ROOM)
  await s.close()
  return updates
}

/**
 * Time of `rooms.open` on a copy of `dir`, or with `pg` of database `db` (the server compacts
 * on close; the original stays as it was).
 */
async function timedLoad(dir: string, profileFile?: string, pgCopy?: { admin: string; db: string }): Promise<number> {
  // The copy lives beside the source, inside the directory the harness removes afterwards
  // (also when it had to kill this process); a database copy goes with the scenario's server.
  const copy = pgCopy ? `cold_copy_${process.pid}` : mkdtempSync(join(dir, '..', 'copy-'))
  try {
    let storage = copy
    if (pgCopy) {
      await adminQuery(pgCopy.admin, `CREATE DATABASE ${quoteIdent(copy)} TEMPLATE ${quoteIdent(pgCopy.db)}`)
      storage = dbUrl(pgCopy.admin, copy)
    } else {
      cpSync(dir, copy, { recursive: true })
    }
    const server = await createServer({ storage, plugins: defaultPlugins(), logger: 'silent', processMetrics: false, idleShutdownMs: 3_600_000 })
    gc()
    const t0 = performance.now()
    const open = () => server.rooms.open(ROOM)
    const room = await (profileFile ? profiled(profileFile, open) : open())
    const ms = performance.now() - t0
    if (room.doc.getMap('models').size === 0) throw new Error('cold load produced an empty room')
    await server.close()
    return ms
  } finally {
    if (pgCopy) await adminQuery(pgCopy.admin, `DROP DATABASE IF EXISTS ${quoteIdent(copy)} WITH (FORCE)`)
    else rmSync(copy, { recursive: true, force: true })
  }
}

function timed(fn: () => void): number {
  gc()
  const t0 = performance.now()
  fn()
  return performance.now() - t0
}

async function measure(dir: string, what: ColdWhat, profileFile?: string, admin?: string): Promise<number> {
  const warm = join(dir, 'warm')
  switch (what) {
    case 'floor': {
      const state = new Uint8Array(readFileSync(join(dir, 'state.bin')))
      const small = stateOf(makeHistory(50, 500))
      timed(() => Y.applyUpdate(new Y.Doc(), small))
      return timed(() => Y.applyUpdate(new Y.Doc(), state))
    }
    case 'mergeApply': {
      const updates = await readLog(join(dir, 'log'))
      const small = makeHistory(50, 500)
      timed(() => Y.applyUpdate(new Y.Doc(), Y.mergeUpdates(small)))
      return timed(() => Y.applyUpdate(new Y.Doc(), Y.mergeUpdates(updates)))
    }
    case 'server':
    case 'log':
    case 'compacted':
      await timedLoad(warm)
      return timedLoad(join(dir, what), profileFile)
    case 'pg:server':
    case 'pg:log':
    case 'pg:compacted': {
      if (!admin) throw new Error(`${what} needs the PostgreSQL server's URL`)
      await timedLoad('', undefined, { admin, db: 'cold_warm' })
      return timedLoad('', profileFile, { admin, db: `cold_${what.slice(3)}` })
    }
    default:
      throw new Error(`unknown measurement ${what}`)
  }
}

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2]) as ColdJob
  if (job.job === 'prepare') {
    const updates = makeHistory(job.models, job.updates)
    const state = stateOf(updates)
    const warmHistory = makeHistory(50, 500)
    await store(join(job.dir, 'log'), updates)
    await store(join(job.dir, 'compacted'), [state])
    await store(join(job.dir, 'warm'), warmHistory)
    const servers = [join(job.dir, 'server')]
    if (job.pg) {
      await store(await freshDatabase(job.pg, 'cold_log'), updates)
      await store(await freshDatabase(job.pg, 'cold_compacted'), [state])
      await store(await freshDatabase(job.pg, 'cold_warm'), warmHistory)
      servers.push(await freshDatabase(job.pg, 'cold_server'))
    }
    const serverEntries = await storeAsServer(servers, updates)
    writeFileSync(join(job.dir, 'state.bin'), state)
    const r: Prepared = {
      models: job.models,
      updates: updates.length,
      stateBytes: state.byteLength,
      logBytes: updates.reduce((n, u) => n + u.byteLength, 0),
      serverEntries,
      tickUpdates: TICK_UPDATES,
    }
    console.log(JSON.stringify(r))
  } else {
    console.log(JSON.stringify({ ms: await measure(job.dir, job.what, job.profileFile, job.pg) }))
  }
}

await main()
