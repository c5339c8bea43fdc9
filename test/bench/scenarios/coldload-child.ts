/**
 * Scenario 5 worker, one job per process (`--expose-gc`), so every measurement starts in a
 * fresh process and a runaway load can be stopped by the harness with a timeout.
 *
 *   prepare:  writes a room with M models and an H-update history to LevelDB three times:
 *             `server`: as a running yroom stores it (one merged entry per tick of 50 updates,
 *             compacted once the log has more than `compactAfterEntries` entries);
 *             `log`: H separate entries (appended one by one by backend writers, never compacted);
 *             `compacted`: the one entry the server writes at unload. Plus the state.
 *   measure:  one timing. `log` / `compacted`: the server's own registry loads the room cold
 *             (`rooms.open`: storage read, merge, apply, plugins' onLoad). `floor`: `Y.applyUpdate`
 *             of the same state in memory. `mergeApply`: Y.mergeUpdates + applyUpdate of the
 *             H updates in memory (no storage), to tell storage cost from merge cost.
 * Each measure first runs the same path on a small room, so JIT compilation is not timed.
 */
import * as Y from 'yjs'
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createServer } from '../../../server/index.js'
import { LevelStorage } from '../../../server/storage/leveldb.js'
import { resolveOptions } from '../../../server/options.js'
import { mergeTick } from '../../../server/codec/tick-merge.js'
import { defaultPlugins } from '../../../plugins/index.js'
import { makeHistory, stateOf } from './history.js'
import { profiled } from '../lib/inspector-profile.js'

export type ColdJob =
  | { job: 'prepare'; dir: string; models: number; updates: number }
  | { job: 'measure'; dir: string; what: ColdWhat; profileFile?: string }

export type ColdWhat = 'floor' | 'server' | 'log' | 'compacted' | 'mergeApply'

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

async function store(dir: string, updates: Uint8Array[]): Promise<void> {
  const s = new LevelStorage(dir)
  await s.open()
  for (let i = 0; i < updates.length; i += 1000) await s.append(ROOM, updates.slice(i, i + 1000))
  await s.close()
}

/** Stores `updates` as Room does: one merged entry per tick, compaction past the limit. */
async function storeAsServer(dir: string, updates: Uint8Array[]): Promise<number> {
  const s = new LevelStorage(dir)
  await s.open()
  const doc = new Y.Doc()
  const limit = resolveOptions({}).compactAfterEntries
  let entries = 0
  for (let i = 0; i < updates.length; i += TICK_UPDATES) {
    // The server's own tick merge (server/codec/tick-merge.ts), so the log is what a room writes.
    const merged = mergeTick(updates.slice(i, i + TICK_UPDATES).map((update) => ({ update, layout: null })))
    const seq = await s.append(ROOM, [merged])
    entries++
    Y.applyUpdate(doc, merged)
    if (entries > limit) {
      await s.compact(ROOM, Y.encodeStateAsUpdate(doc), seq)
      entries = 1
    }
  }
  await s.close()
  doc.destroy()
  return entries
}

async function readLog(dir: string): Promise<Uint8Array[]> {
  const s = new LevelStorage(dir)
  await s.open()
  const { updates } = await s.load(ROOM)
  await s.close()
  return updates
}

/** Time of `rooms.open` on a copy of `dir` (the server compacts on close; the original stays as it was). */
async function timedLoad(dir: string, profileFile?: string): Promise<number> {
  // The copy lives beside the source, inside the directory the harness removes afterwards
  // (also when it had to kill this process).
  const copy = mkdtempSync(join(dir, '..', 'copy-'))
  try {
    cpSync(dir, copy, { recursive: true })
    const server = await createServer({ storage: copy, plugins: defaultPlugins(), logger: 'silent', processMetrics: false, idleShutdownMs: 3_600_000 })
    gc()
    const t0 = performance.now()
    const open = () => server.rooms.open(ROOM)
    const room = await (profileFile ? profiled(profileFile, open) : open())
    const ms = performance.now() - t0
    if (room.doc.getMap('models').size === 0) throw new Error('cold load produced an empty room')
    await server.close()
    return ms
  } finally {
    rmSync(copy, { recursive: true, force: true })
  }
}

function timed(fn: () => void): number {
  gc()
  const t0 = performance.now()
  fn()
  return performance.now() - t0
}

async function measure(dir: string, what: string, profileFile?: string): Promise<number> {
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
    default:
      throw new Error(`unknown measurement ${what}`)
  }
}

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2]) as ColdJob
  if (job.job === 'prepare') {
    const updates = makeHistory(job.models, job.updates)
    const state = stateOf(updates)
    await store(join(job.dir, 'log'), updates)
    await store(join(job.dir, 'compacted'), [state])
    const serverEntries = await storeAsServer(join(job.dir, 'server'), updates)
    await store(join(job.dir, 'warm'), makeHistory(50, 500))
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
    console.log(JSON.stringify({ ms: await measure(job.dir, job.what, job.profileFile) }))
  }
}

await main()
