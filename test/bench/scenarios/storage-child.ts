/**
 * Scenario 6 worker: the storage layer alone. Appends batches of real writer updates (one
 * tick of 50 clients = one batch) to yroom's storage in 4 rooms at once for a fixed time,
 * awaiting each batch as the room tick does. Prints updates per second, the bytes of an
 * update, and what the store keeps per update, measured once the rooms hold at least
 * STORED_MIN updates (a short timed run is topped up, untimed, with the same updates in
 * batches of 50, so fixed overheads such as a table's first pages do not dominate):
 *  - LevelDB: the size of its directory after close, divided by the updates appended;
 *  - PostgreSQL (`url`: a fresh database; each room's lease taken first, as a server does):
 *    `pg_total_relation_size` of the updates table (heap, TOAST and the primary-key index)
 *    divided by its rows, measured before close.
 */
import * as Y from 'yjs'
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import type { Storage } from '../../../server/storage/storage.js'
import { LevelStorage } from '../../../server/storage/leveldb.js'
import { openStorage } from '../../../server/storage/open.js'

export interface AppendJob {
  seconds: number
  batch: number
  /** A PostgreSQL database URL (fresh, empty); LevelDB in a temp dir when absent. */
  url?: string
}

export interface AppendResult {
  /** Absent in reports from before PostgreSQL: LevelDB. */
  backend?: 'leveldb' | 'postgres'
  /** A variant of the backend's settings, e.g. `synchronous_commit=off`. */
  variant?: string
  updatesPerSec: number
  batch: number
  /** Bytes of one update (the Yjs update itself). */
  bytesPerUpdate: number
  /** Bytes the store holds per update appended (see the file comment for how). */
  storedBytesPerUpdate?: number
  /** Updates in the store when `storedBytesPerUpdate` was measured. */
  updates?: number
}

const STORED_MIN = 20_000

function tickBatch(clients: number): Uint8Array[] {
  return Array.from({ length: clients }, (_, i) => {
    const doc = new Y.Doc()
    let update: Uint8Array = new Uint8Array()
    doc.on('update', (u: Uint8Array) => (update = u))
    doc.getMap('models').set(`m${i}`, `YbM${String(i).padStart(6, '0')}${String(Date.now() * 1000).padStart(12, '0')}`)
    return update
  })
}

function dirBytes(dir: string): number {
  let n = 0
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    n += e.isDirectory() ? dirBytes(p) : statSync(p).size
  }
  return n
}

/** Bytes per row of the updates table, indexes and TOAST included. */
async function pgBytesPerRow(url: string): Promise<number> {
  const u = new URL(url)
  const schema = u.searchParams.get('schema') ?? 'yroom'
  u.searchParams.delete('schema')
  const c = new pg.Client({ connectionString: u.toString() })
  await c.connect()
  try {
    const { rows } = await c.query<{ bytes: string; n: string }>(
      `SELECT pg_total_relation_size(format('%I.updates', $1::text)::regclass) AS bytes, (SELECT count(*) FROM "${schema}".updates) AS n`,
      [schema],
    )
    return Number(rows[0].bytes) / Number(rows[0].n)
  } finally {
    await c.end()
  }
}

async function main(): Promise<void> {
  const { seconds, batch, url } = JSON.parse(process.argv[2]) as AppendJob
  const dir = url ? null : mkdtempSync(join(tmpdir(), 'yroom-bench-append-'))
  try {
    let storage: Storage
    if (url) {
      storage = await openStorage(url, { nodeId: 'bench-append' })
    } else {
      const level = new LevelStorage(dir!)
      await level.open()
      storage = level
    }
    const names = [0, 1, 2, 3].map((i) => `append-${i}`)
    for (const name of names) await storage.lease?.(name)
    const updates = tickBatch(batch)
    let stored = 0
    const end = performance.now() + seconds * 1000
    const room = async (name: string) => {
      while (performance.now() < end) {
        await storage.append(name, updates)
        stored += updates.length
      }
    }
    const t0 = performance.now()
    await Promise.all(names.map(room))
    const sec = (performance.now() - t0) / 1000
    const timed = stored
    const topUp = Array.from({ length: 50 }, (_, i) => updates[i % updates.length])
    for (let i = 0; stored < STORED_MIN; i++) {
      await storage.append(names[i % names.length], topUp)
      stored += topUp.length
    }
    const pgBytes = url ? await pgBytesPerRow(url) : undefined
    await storage.close()
    const result: AppendResult = {
      backend: url ? 'postgres' : 'leveldb',
      updatesPerSec: timed / sec,
      batch,
      bytesPerUpdate: updates.reduce((n, u) => n + u.byteLength, 0) / updates.length,
      storedBytesPerUpdate: pgBytes ?? dirBytes(dir!) / stored,
      updates: stored,
    }
    console.log(JSON.stringify(result))
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true })
  }
}

await main()
