/** Picks the storage backend from the form of the `--data` value (SPEC §11). */
import type { Storage } from './storage.js'
import type { PostgresStorageOptions } from './postgres.js'

/** True for a `--data` value naming a PostgreSQL database. */
export function isPostgresUrl(data: string): boolean {
  return /^postgres(ql)?:\/\//i.test(data)
}

/**
 * Opens the storage a `--data` value names: `:memory:`, a PostgreSQL URL
 * (`postgres://USER@HOST:PORT/DB`), or a LevelDB directory. Any other URL form is refused.
 */
export async function openStorage(data: string, options: PostgresStorageOptions = {}): Promise<Storage> {
  if (data === ':memory:') {
    const { MemoryStorage } = await import('./memory.js')
    return new MemoryStorage()
  }
  if (isPostgresUrl(data)) {
    const { PostgresStorage } = await import('./postgres.js')
    const storage = new PostgresStorage(data, options)
    await storage.open()
    return storage
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(data)) {
    throw new Error(`unknown --data form ${JSON.stringify(data)}: use a directory (LevelDB), :memory:, or postgres://USER@HOST:PORT/DB`)
  }
  const { LevelStorage } = await import('./leveldb.js')
  const s = new LevelStorage(data)
  await s.open()
  return s
}
