/**
 * `yroom repair --data DIR [--room NAME] [--dry-run]`: the operator's way out of damaged
 * storage (SPEC §12). Runs with the server stopped (LevelDB allows one process per directory).
 *
 * 1. When LevelDB cannot open the directory (a damaged MANIFEST or CURRENT, a corrupt table),
 *    runs LevelDB's own repair (RepairDB), which rebuilds the MANIFEST from the table and log
 *    files and moves what it cannot read into `lost/`.
 * 2. Checks every room (or one) like a load does and, where the log is damaged, accepts the
 *    loss: keeps the entries that pass their checks, chains them anew and records the new
 *    head, then reports per room what was lost.
 */
import { existsSync } from 'node:fs'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import * as Y from 'yjs'
import { describeDamage, describeDamages, missingEntries, type CheckedEntry } from './integrity.js'
import { LevelStorage, StorageOpenError } from './leveldb.js'

export interface RepairOptions {
  /** Only this room (default: every room with a log or a head record). */
  room?: string
  /** Report only; change nothing. */
  dryRun?: boolean
  /** Receives the report, line by line. */
  out?: (line: string) => void
}

export interface RoomReport {
  room: string
  status: 'ok' | 'damaged' | 'repaired' | 'emptied'
  /** What the check found (empty when ok). */
  damage: string[]
  /** Entries kept by the repair. */
  kept?: number
  /** Some kept updates depend on lost ones (Yjs holds them back as pending). */
  pending?: boolean
}

export interface RepairReport {
  /** LevelDB's repair ran (or, in a dry run, would run). */
  leveldbRepaired: boolean
  /** Files LevelDB's repair moved to `lost/`. */
  lostFiles: string[]
  rooms: RoomReport[]
}

/** A raw entry (no integrity header) above the upgrade mark is kept if it is a Yjs update. */
function keepEntry(e: CheckedEntry): boolean {
  if (e.ok) return true
  if (!e.raw) return false
  try {
    Y.decodeUpdate(e.payload)
    return true
  } catch {
    return false
  }
}

async function lostFiles(dir: string): Promise<string[]> {
  try {
    return await readdir(join(dir, 'lost'))
  } catch {
    return []
  }
}

/** Sorted seqs as runs of consecutive numbers. */
function runs(seqs: number[]): Array<[number, number]> {
  const out: Array<[number, number]> = []
  for (const n of seqs) {
    const last = out[out.length - 1]
    if (last && n === last[1] + 1) last[1] = n
    else out.push([n, n])
  }
  return out
}

const span = (entries: readonly { seq: number }[]) =>
  entries.length === 0 ? 'none' : entries.length === 1 ? `seq ${entries[0].seq}` : `seq ${entries[0].seq}–${entries[entries.length - 1].seq}`

export async function repairDataDir(dir: string, options: RepairOptions = {}): Promise<RepairReport> {
  const out = options.out ?? (() => undefined)
  if (!existsSync(dir)) throw new Error(`no data directory at ${dir}`)
  const report: RepairReport = { leveldbRepaired: false, lostFiles: [], rooms: [] }
  let storage = new LevelStorage(dir)
  try {
    await storage.open()
    out(`LevelDB: opens normally`)
  } catch (err) {
    if (!(err instanceof StorageOpenError) || err.locked) throw err
    out(`LevelDB: cannot open (${err.reason})`)
    report.leveldbRepaired = true
    if (options.dryRun) {
      out(`LevelDB: would run LevelDB's repair (dry run: stopping here)`)
      return report
    }
    const before = new Set(await lostFiles(dir))
    await LevelStorage.repairLevelDb(dir)
    report.lostFiles = (await lostFiles(dir)).filter((f) => !before.has(f))
    out(
      `LevelDB: repaired (MANIFEST rebuilt from the table and log files; details in ${join(dir, 'LOG')})` +
        (report.lostFiles.length > 0 ? `; unreadable files moved to ${join(dir, 'lost')}: ${report.lostFiles.join(', ')}` : ''),
    )
    storage = new LevelStorage(dir)
    try {
      await storage.open()
    } catch (again) {
      throw new Error(`LevelDB's repair did not help: ${again instanceof StorageOpenError ? again.reason : String(again)}`)
    }
  }
  try {
    const rooms = options.room !== undefined ? [options.room] : await storage.storedRooms()
    for (const room of rooms) {
      const name = JSON.stringify(room)
      const check = await storage.check(room)
      if (check.damage.length === 0) {
        out(`room ${name}: ok (${check.entries.length} entries, ${span(check.entries)})`)
        report.rooms.push({ room, status: 'ok', damage: [] })
        continue
      }
      const damage = check.damage.map(describeDamage)
      out(`room ${name}: damaged: ${describeDamages(check.damage)}`)
      if (options.dryRun) {
        report.rooms.push({ room, status: 'damaged', damage })
        continue
      }
      const { kept } = await storage.repair(room, keepEntry)
      const keptSeqs = new Set(kept.map((e) => e.seq))
      const dropped = check.entries.filter((e) => !keptSeqs.has(e.seq))
      let pending = false
      try {
        const doc = new Y.Doc()
        doc.transact(() => {
          for (const e of kept) (e.v2 ? Y.applyUpdateV2 : Y.applyUpdate)(doc, e.payload)
        })
        pending = doc.store.pendingStructs !== null || doc.store.pendingDs !== null
        doc.destroy()
      } catch (err) {
        out(`  warning: the kept updates do not apply as a Yjs document (${(err as Error).message}); the room will not load`)
      }
      const lost = [
        ...check.damage.flatMap((d) => (d.kind === 'missing' ? [missingEntries(d)] : [])),
        ...runs(dropped.map((e) => e.seq)).map(([from, to]) => `${missingEntries({ from, to })} (dropped)`),
      ]
      if (kept.length === 0) {
        out(`  → nothing left: the room is now empty (lost: ${lost.join('; ') || 'its whole log'})`)
        report.rooms.push({ room, status: 'emptied', damage, kept: 0 })
      } else {
        out(
          `  → re-based on ${kept.length} kept entries (now ${span(
            kept.map((_, i) => ({ seq: kept[0].seq + i })),
          )}); lost: ${lost.join('; ') || 'nothing beyond the report above'}`,
        )
        if (pending) {
          out(`  note: some kept updates depend on lost ones; Yjs holds them back until the missing changes arrive (a client that still has them sends them when it reconnects)`)
        }
        report.rooms.push({ room, status: 'repaired', damage, kept: kept.length, pending })
      }
    }
  } finally {
    await storage.close()
  }
  return report
}

export const REPAIR_USAGE = `usage: yroom repair [--data DIR] [--room NAME] [--dry-run]
  Run with the server stopped. Opens the LevelDB directory (default ./data), running LevelDB's
  own repair first when it cannot be opened (a damaged MANIFEST or CURRENT), then checks every
  room's log (or only --room NAME) and, where entries are missing or corrupt, accepts the loss:
  the room is rebuilt from the entries that pass their checks and the report says what was lost.
  --dry-run                only report; exit status 1 when anything is damaged`

/** The `yroom repair` command; resolves with the process exit status. */
export async function repairCommand(argv: string[], out: (line: string) => void = (l) => console.log(l)): Promise<number> {
  let values: { data?: string; room?: string; 'dry-run'?: boolean; help?: boolean }
  try {
    ;({ values } = parseArgs({
      args: argv,
      options: {
        data: { type: 'string' },
        room: { type: 'string' },
        'dry-run': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }))
  } catch (err) {
    console.error(`yroom repair: ${(err as Error).message}\n${REPAIR_USAGE}`)
    return 2
  }
  if (values.help) {
    out(REPAIR_USAGE)
    return 0
  }
  const dir = values.data ?? './data'
  if (dir === ':memory:') {
    console.error('yroom repair: --data :memory: has nothing to repair')
    return 2
  }
  out(`yroom repair: ${dir}${values['dry-run'] ? ' (dry run)' : ''}`)
  try {
    const report = await repairDataDir(dir, { room: values.room, dryRun: values['dry-run'], out })
    const damaged = report.rooms.filter((r) => r.status !== 'ok').length
    out(
      `${report.rooms.length} room${report.rooms.length === 1 ? '' : 's'} checked, ${damaged} damaged` +
        (values['dry-run'] ? '' : damaged > 0 ? ', repaired' : ''),
    )
    return values['dry-run'] && (damaged > 0 || report.leveldbRepaired) ? 1 : 0
  } catch (err) {
    console.error(`yroom repair: ${(err as Error).message}`)
    return 1
  }
}
