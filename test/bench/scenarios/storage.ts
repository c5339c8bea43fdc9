/**
 * Scenario 6, storage: accepted updates per second written durably.
 *  - End to end: the standard load against yroom on LevelDB (`--data <dir>`), and against
 *    @y/websocket-server with its LevelDB persistence (y-leveldb, YPERSISTENCE). After the
 *    window the server is killed with SIGKILL and its store reopened: for every writer, the
 *    newest write that any client had received must be in the store (yroom stores a tick
 *    before it broadcasts it, SPEC §6).
 *  - The storage layer alone (storage-child.ts): LevelDB appends in tick-sized batches.
 */
import * as Y from 'yjs'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LevelStorage } from '../../../server/storage/leveldb.js'
import { runLoadgen } from '../lib/loadgen.js'
import { runScript } from '../lib/child-script.js'
import type { LoadResult } from '../loadgen/types.js'
import { startServer, type ServerId } from '../servers/servers.js'
import { brief, log, waitForQuiet, type Settings } from './common.js'

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
  append: { updatesPerSec: number; batch: number; bytesPerUpdate: number }[]
}

/** `v` values of every model of `rooms`, read from yroom's LevelDB after the crash. */
async function yroomStored(dir: string, rooms: string[]): Promise<Record<string, Record<string, string>>> {
  const storage = new LevelStorage(dir)
  await storage.open()
  const out: Record<string, Record<string, string>> = {}
  for (const room of rooms) {
    const { updates } = await storage.load(room)
    const doc = new Y.Doc()
    doc.transact(() => {
      for (const u of updates) Y.applyUpdate(doc, u)
    })
    const values: Record<string, string> = {}
    doc.getMap('models').forEach((m, key) => {
      const v = m instanceof Y.Map ? m.get('v') : undefined
      if (typeof v === 'string') values[key] = v
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

async function durableRun(id: ServerId, s: Settings, prefix: string): Promise<DurableRun> {
  const dir = mkdtempSync(join(tmpdir(), 'yroom-bench-store-'))
  try {
    await waitForQuiet(s)
    const server = await startServer(id, id === 'y-websocket-server' ? { persistenceDir: dir } : { data: dir })
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
        : await yroomStored(dir, rooms)
    const run: DurableRun = {
      server: id,
      store: id === 'y-websocket-server' ? 'y-leveldb (YPERSISTENCE)' : 'LevelDB (--data)',
      result,
      acceptedPerSec: result.delivered / (s.standard.clientsPerRoom - 1) / result.windowSec,
      crashCheck: crashCheck(stored, result),
    }
    log(`  ${id}: ${brief(result)}; after SIGKILL ${run.crashCheck.durable}/${run.crashCheck.writers} writers' last delivered write stored`)
    return run
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

export async function storage(s: Settings): Promise<StorageResult> {
  log('scenario 6 storage')
  const runs = [await durableRun('yroom', s, 'durable-yroom'), await durableRun('y-websocket-server', s, 'durable-yws')]
  const child = join(import.meta.dirname, 'storage-child.ts')
  const append = []
  for (const batch of [50, 1]) {
    append.push(await runScript<StorageResult['append'][number]>(child, { seconds: s.storage.appendSeconds, batch }))
    log(`  LevelDB append, batches of ${batch}: ${append[append.length - 1].updatesPerSec.toFixed(0)} updates/s`)
  }
  return { runs, append }
}
