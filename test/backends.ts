/**
 * The storage backends the storage, persistence, lifetime and crash suites run against, one
 * suite for all (`describe.each(backendCases)` / `it.each(backendCases)`):
 *
 *   leveldb   a fresh temp directory
 *   postgres  a fresh database on this worker's throwaway PostgreSQL server (test/postgres.ts)
 *
 * `data()` gives the `storage` option / `--data` value and a cleanup. A test that restarts a
 * server passes the same value again. YROOM_TEST_POSTGRES=0 leaves PostgreSQL out (it is
 * in by default: .ci/run installs it; without it the postgres cases fail, saying how to
 * install it).
 */
import { afterAll } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Storage } from '../server/index.js'
import { createDatabase, stopSharedPostgres } from './postgres.js'

export interface BackendData {
  /** The `storage` option of createServer / the `--data` value of the CLI. */
  data: string
  /** Removes the directory or drops the database (after every server on it stopped). */
  cleanup(): Promise<void>
}

export interface Backend {
  name: 'leveldb' | 'postgres'
  /** Fresh, empty storage. */
  data(): Promise<BackendData>
}

export const leveldb: Backend = {
  name: 'leveldb',
  async data() {
    const path = await mkdtemp(join(tmpdir(), 'yroom-test-'))
    return { data: path, cleanup: () => rm(path, { recursive: true, force: true }) }
  },
}

export const postgres: Backend = {
  name: 'postgres',
  async data() {
    const db = await createDatabase()
    // Dropping is a courtesy: the whole server goes when the worker ends.
    return { data: db.url, cleanup: () => db.drop().catch(() => undefined) }
  },
}

/** True unless YROOM_TEST_POSTGRES=0 (or false/no/off). */
export const postgresEnabled = !/^(0|false|no|off)$/i.test(process.env.YROOM_TEST_POSTGRES ?? '')

/** Every backend these tests run against. */
export const backends: Backend[] = postgresEnabled ? [leveldb, postgres] : [leveldb]

/** `backends` as [name, backend] rows, for `describe.each(backendCases)('%s …', (_name, backend) => …)`. */
export const backendCases: Array<readonly [Backend['name'], Backend]> = backends.map((b) => [b.name, b] as const)

/** The storage a `--data` value names, opened as the server opens it. */
export { openStorage } from '../server/index.js'

/**
 * `storage` used the way the server uses it: a shared backend (PostgreSQL) writes a room only
 * under its lease, which the server takes before it loads the room. Tests of the Storage
 * interface write directly, so this takes the lease before a room's first write (and again
 * after the room was deleted). Embedded backends have no leases: they pass through.
 */
export function withLeases<S extends Storage>(storage: S): S {
  if (!storage.lease) return storage
  const leased = new Map<string, Promise<void>>()
  const lease = (room: string) => {
    let p = leased.get(room)
    if (!p) {
      p = storage.lease!(room)
      p.catch(() => leased.delete(room))
      leased.set(room, p)
    }
    return p
  }
  return new Proxy(storage, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown
      if (typeof value !== 'function') return value
      if (prop === 'append' || prop === 'compact' || prop === 'setMeta') {
        return async (room: string, ...rest: unknown[]) => {
          await lease(room)
          return (value as (...a: unknown[]) => unknown).call(target, room, ...rest)
        }
      }
      if (prop === 'delete') {
        return async (room: string) => {
          await (value as (r: string) => Promise<void>).call(target, room)
          leased.delete(room)
        }
      }
      return (value as (...a: unknown[]) => unknown).bind(target)
    },
  })
}

const fileCleanups: Array<() => Promise<void>> = []

/**
 * In-memory storage (the createServer default) and every backend, as [name, fresh storage
 * value] rows for suites that ran on `:memory:` only: `describe.each(storageCases)('… %s', (_name,
 * storage) => … startServer({ storage: await storage() }) …)`. Removed when the file is done.
 */
export const storageCases: Array<readonly [string, () => Promise<string>]> = [
  ['memory', async () => ':memory:'],
  ...backends.map(
    (b) =>
      [
        b.name,
        async () => {
          const d = await b.data()
          fileCleanups.push(d.cleanup)
          return d.data
        },
      ] as const,
  ),
]

// When the test file is done: storage made by storageCases goes, then the worker's
// PostgreSQL server (if a test started one) stops.
afterAll(async () => {
  for (const c of fileCleanups.splice(0)) await c()
  await stopSharedPostgres()
})
