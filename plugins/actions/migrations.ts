/**
 * Migrations (SPEC §8): named steps applied once, in order, to a room's data when it loads.
 * The names of applied steps are recorded in `$room.migrations` in the same transaction as
 * the step's changes, so a step never runs twice, even across crashes.
 */
import * as Y from 'yjs'
import type { RoomHandle } from '../../server/plugin.js'
import { ROOM_MAP } from '../../src/shared/layout.js'

export interface Migration {
  /** Unique, stable name: the record that it ran. */
  name: string
  /** Edits the document as the server. Must not throw half-way: it runs in one transaction. */
  up(doc: Y.Doc): void
}

const RECORD_KEY = 'migrations'

export function appliedMigrations(doc: Y.Doc): string[] {
  const a = doc.getMap(ROOM_MAP).get(RECORD_KEY)
  return a instanceof Y.Array ? (a.toArray() as string[]) : []
}

export function runMigrations(room: RoomHandle, migrations: readonly Migration[]): void {
  const done = new Set(appliedMigrations(room.doc))
  for (const m of migrations) {
    if (done.has(m.name)) continue
    room.transactAsServer((doc) => {
      m.up(doc)
      const roomMap = doc.getMap(ROOM_MAP)
      let record = roomMap.get(RECORD_KEY)
      if (!(record instanceof Y.Array)) roomMap.set(RECORD_KEY, (record = new Y.Array<string>()))
      ;(record as Y.Array<string>).push([m.name])
    })
    room.logger.info({ room: room.name, migration: m.name }, 'migration applied')
  }
}
