/**
 * Scenario 6, storage: accepted updates per second written durably.
 *  - End to end: the standard load against yroom on LevelDB (`--data <dir>`), on PostgreSQL
 *    (`--data postgres://…`, a fresh database on the scenario's throwaway server), and
 *    against @y/websocket-server with its LevelDB persistence (y-leveldb, YPERSISTENCE).
 *    After the window the server is killed with SIGKILL and its store reopened: for every
 *    writer, the newest write that any client had received must be in the store (yroom
 *    stores a tick before it broadcasts it, SPEC §6).
 *  - The storage layer alone (storage-child.ts): LevelDB and PostgreSQL appends in
 *    tick-sized batches; PostgreSQL also with `synchronous_commit=off` (a commit returns
 *    before its WAL is flushed: like LevelDB here, which does not fsync each write).
 * PostgreSQL's rows are skipped, with a note, when it is not installed (lib/postgres.ts).
 */
import * as Y from 'yjs'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LevelStorage } from '../../../server/storage/leveldb.js'
import type { Storage } from '../../../server/storage/storage.js'
import { applyStored } from '../../../server/room/room.js'
import { openStorage } from '../../../server/storage/open.js'
import { runLoadgen } from '../lib/loadgen.js'
import { SHARED_MAP } from '../loadgen/client.js'
import { runScript } from '../lib/child-script.js'
import type { LoadResult } from '../loadgen/types.js'
import { startServer, type ServerId } from '../servers/servers.js'
import { benchPgSettingsText, startBenchPostgres } from '../lib/postgres.js'
import { brief, log, waitForQuiet, type Settings } from './common.js'
import type { AppendJob, AppendResult } from './storage-child.js'

export interface DurableRun {
  server: ServerId
  store: string
  result: LoadResult
  /** Writes of the window delivered to the other clients, per second (a write counts once). */
  acceptedPerSec: number
  /** Writers whose newest delivered write was found in the store after SIGKILL. */
  crashCheck: { writers: number; durable: number }
}

export interface StorageResult {
  runs: DurableRun[]
  append: AppendResult[]
  /** The scenario's PostgreSQL server (absent in reports from before PostgreSQL). */
  postgres?: { version: string; settings: string }
  /** Why the PostgreSQL rows are missing. */
  postgresSkipped?: string
}

/** `v` values of every model of `rooms`, read from yroom's store (a LevelDB dir or a PostgreSQL URL) after the crash. */
async function yroomStored(data: string, rooms: string[]): Promise<Record<string, Record<string, string>>> {
  let storage: Storage
  if (data.startsWith('postgres://')) {
    // Reading needs no lease (the killed server's has not expired yet).
    storage = await openStorage(data, { nodeId: 'bench-crash-check' })
  } else {
    const level = new LevelStorage(data)
    await level.open()
    storage = level
  }
  const out: Record<string, Record<string, string>> = {}
  for (const room of rooms) {
    const { updates, v2 } = await storage.load(room)
    const doc = new Y.Doc()
    // As the server loads it: a compacted snapshot may be in Yjs V2.
    applyStored(doc, updates, v2)
    const values: Record<string, string> = {}
    // Owned models (shape 'models'): `m${id}` → model with `v`; stock clients: `c${id}` → value.
    doc.getMap('models').forEach((m, key) => {
      const v = m instanceof Y.Map ? m.get('v') : undefined
      if (typeof v === 'string') values[key] = v
    })
    doc.getMap(SHARED_MAP).forEach((v, key) => {
      if (typeof v === 'string') values[`m${key.slice(1)}`] = v
    })
    out[room] = values
    doc.destroy()
  }
  await storage.close()
  return out
}

function crashCheck(stored: Record<string, Record<string, string>>, result: LoadResult): { writers: number; durable: number } {
  const all: Record<string, string> = Object.assign({}, ...Object.values(stored))
  let writers = 0
  let durable = 0
  for (const [id, ts] of Object.entries(result.lastDelivered ?? {})) {
    if (ts < 0) continue
    writers++
    const v = all[`m${id}`]
    if (v !== undefined && Number(v.slice(9)) >= ts) durable++
  }
  return { writers, durable }
}

/** `pgUrl`: run yroom on this PostgreSQL database instead of LevelDB. */
async function durableRun(id: ServerId, s: Settings, prefix: string, pgUrl?: string): Promise<DurableRun> {
  const dir = mkdtempSync(join(tmpdir(), 'yroom-bench-store-'))
  try {
    await waitForQuiet(s)
    const server = await startServer(id, id === 'y-websocket-server' ? { persistenceDir: dir } : { data: pgUrl ?? dir })
    let result: LoadResult
    try {
      result = await runLoadgen({
        flavor: server.spec.flavor,
        host: '127.0.0.1',
        port: server.port,
        serverPid: server.pid,
        ...s.standard,
        offendersPerRoom: 0,
        roomPrefix: prefix,
        trackLastDelivered: true,
      })
    } finally {
      await server.kill()
    }
    const rooms = Array.from({ length: s.standard.rooms }, (_, i) => `${prefix}-${i}`)
    const stored =
      id === 'y-websocket-server'
        ? await runScript<Record<string, Record<string, string>>>(join(import.meta.dirname, '..', 'servers', 'yleveldb-read.mjs'), { dir, rooms })
        : await yroomStored(pgUrl ?? dir, rooms)
    const run: DurableRun = {
      server: id,
      store: id === 'y-websocket-server' ? 'y-leveldb (YPERSISTENCE)' : pgUrl ? 'PostgreSQL (--data postgres://…)' : 'LevelDB (--data)',
      result,
      acceptedPerSec: result.delivered / (s.standard.clientsPerRoom - 1) / result.windowSec,
      crashCheck: crashCheck(stored, result),
    }
    log(`  ${id} on ${run.store}: ${brief(result)}; after SIGKILL ${run.crashCheck.durable}/${run.crashCheck.writers} writers' last delivered write stored`)
    return run
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

export async function storage(s: Settings): Promise<StorageResult> {
  log('scenario 6 storage')
  const child = join(import.meta.dirname, 'storage-child.ts')
  const appendRun = async (job: AppendJob, label: string, variant?: string): Promise<AppendResult> => {
    const r = { ...(await runScript<AppendResult>(child, job)), ...(variant ? { variant } : {}) }
    log(`  ${label} append, batches of ${job.batch}: ${r.updatesPerSec.toFixed(0)} updates/s, ${r.storedBytesPerUpdate?.toFixed(0)} bytes stored per update`)
    return r
  }
  const runs = [await durableRun('yroom', s, 'durable-yroom'), await durableRun('y-websocket-server', s, 'durable-yws')]
  const append: AppendResult[] = []
  for (const batch of [50, 1]) append.push(await appendRun({ seconds: s.storage.appendSeconds, batch }, 'LevelDB'))
  const result: StorageResult = { runs, append }

  const pg = await startBenchPostgres()
  if ('skipped' in pg) return { ...result, postgresSkipped: pg.skipped }
  try {
    result.postgres = { version: pg.version, settings: benchPgSettingsText() }
    const db = await pg.server.createDatabase('bench_durable')
    runs.splice(1, 0, await durableRun('yroom', s, 'durable-yroom-pg', db.url))
    // A fresh database for every run, so each starts from empty tables.
    let n = 0
    for (const [variant, options] of [
      [undefined, ''],
      ['synchronous_commit=off', '?options=' + encodeURIComponent('-c synchronous_commit=off')],
    ] as const) {
      for (const batch of [50, 1]) {
        const fresh = await pg.server.createDatabase(`bench_append_${++n}`)
        append.push(await appendRun({ seconds: s.storage.appendSeconds, batch, url: fresh.url + options }, `PostgreSQL${variant ? ` (${variant})` : ''}`, variant))
      }
    }
    return result
  } finally {
    await pg.server.stop()
  }
}
