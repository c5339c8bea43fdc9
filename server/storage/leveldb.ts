/**
 * Embedded LevelDB storage (the default, `--data ./data`).
 *
 * Keys (utf8; room names never contain control characters, so NUL separates safely):
 *   `u\0<room>\0<seq:16 hex>` → one log entry: integrity header + Yjs update (integrity.ts)
 *   `m\0<room>\0<key>`        → metadata record
 *   `l\0<room>`               → the room's last seq when the directory was first opened with
 *                               the integrity format: entries up to it may be raw updates
 *   `f\0format`               → the integrity format is in use in this directory
 * A compaction's snapshot is stored in Yjs update format V2 when the caller gives it so (the
 * room server does; header version 2, integrity.ts); older V1 snapshots and log entries load
 * as they are.
 *
 * LevelDB keeps deleted and overwritten values on disk (its log file, then its tables) until
 * its own compaction of the tables holding them, which a small store may not reach for a
 * long time: a room compacted from a long log would keep that whole log on disk. So after
 * room compactions have dropped enough (RECLAIM_MIN_BYTES, and a quarter of the log's size
 * on disk), the rooms' key ranges are compacted (`compactRange`, LevelDB's background
 * thread, one at a time; close() waits for it).
 *
 * Beside LevelDB's files, `yroom-heads.json` records each room's last seq and chain value
 * (integrity.ts, HeadFile), so that a log cut short is noticed on the next load.
 *
 * Sequence numbers are allocated in-process per room; LevelDB allows one process per
 * directory, so this needs no lock. Each room's writes run one after another (the chain
 * value of an entry depends on the one before; a failed write leaves no gap). Writes are not
 * fsynced individually: a killed server process loses nothing (the OS has the data), only a
 * machine crash could, and the head record then reports what was lost.
 */
import { readdir } from 'node:fs/promises'
import { ClassicLevel } from 'classic-level'
import type { Storage, StoredDocument, UpdateEncoding } from './storage.js'
import {
  chainOf,
  checkLog,
  encodeEntry,
  entryCrc,
  FLAG_BASE,
  HeadFile,
  isHeaded,
  link,
  roomCrc,
  StorageDamaged,
  type CheckedEntry,
  type Damage,
  type Head,
  type LogCheck,
  versionFor,
} from './integrity.js'

const SEP = '\u0000'
const logPrefix = (room: string) => `u${SEP}${room}${SEP}`
const metaPrefix = (room: string) => `m${SEP}${room}${SEP}`
const legacyKey = (room: string) => `l${SEP}${room}`
const FORMAT_KEY = `f${SEP}format`
const seqKey = (room: string, seq: number) => logPrefix(room) + seq.toString(16).padStart(16, '0')
/** Upper bound for range scans: U+FFFF sorts after every key character we use. */
const END = '\uffff'
const utf8 = new TextEncoder()
const text = new TextDecoder()
/** Bytes room compactions must have dropped before their key ranges are compacted on disk. */
export const RECLAIM_MIN_BYTES = 64 * 1024

/** The LevelDB directory cannot be opened; `cause` is LevelDB's own error. */
export class StorageOpenError extends Error {
  readonly code = 'YROOM_STORAGE_OPEN'
  constructor(
    readonly dir: string,
    /** LevelDB's reason (e.g. "Corruption: checksum mismatch"). */
    readonly reason: string,
    /** Another process holds the directory (not damage: nothing to repair). */
    readonly locked: boolean,
    options?: { cause?: unknown },
  ) {
    super(
      locked
        ? `cannot open the data directory ${dir}: it is in use by another process (${reason})`
        : `cannot open the data directory ${dir}: ${reason}. The storage looks damaged: stop every yroom using it, then run: yroom repair --data ${dir}`,
      options,
    )
    this.name = 'StorageOpenError'
  }
}

/** What the server keeps per room it has touched. */
interface RoomState {
  head: Head
  /** Entries up to this seq may be raw (0: none). */
  legacyThrough: number
}

export interface LevelStorageOptions {
  /** Shortest time between two writes of the head record after appends (default 250 ms; at most 1 s). */
  headFlushMs?: number
}

export class LevelStorage implements Storage {
  /** Compacted snapshots are stored in Yjs V2 (Storage.snapshotEncoding). */
  readonly snapshotEncoding = 'v2'
  private level: ClassicLevel<string, Uint8Array> | null = null
  private heads: HeadFile
  private state = new Map<string, RoomState>()
  private damaged = new Map<string, StorageDamaged>()
  private queues = new Map<string, Promise<unknown>>()
  /** Appends waiting for their room's next write. */
  private appending = new Map<string, Array<{ updates: Uint8Array[]; resolve: (seq: number) => void; reject: (err: unknown) => void }>>()
  /** Problems with the head record found at open (the server still starts). */
  readonly warnings: string[] = []
  /** Bytes dropped by room compactions since the last reclaim, and the rooms they were in. */
  private dropped = 0
  private droppedIn = new Set<string>()
  /** The running reclaim (compactRange), if any. */
  private reclaiming: Promise<void> | null = null
  /** A room compaction finished while a reclaim ran: check again after it. */
  private reclaimAgain = false

  constructor(
    private dir: string,
    options: LevelStorageOptions = {},
  ) {
    const flushMs = Math.min(1000, Math.max(1, options.headFlushMs ?? 250))
    this.heads = new HeadFile(dir, flushMs, 1000, (err) =>
      this.warn(`cannot write the head record ${this.heads.path} (${err.message}); retrying, and until then logs cut short cannot be detected`),
    )
  }

  get location(): string {
    return this.dir
  }

  private get db(): ClassicLevel<string, Uint8Array> {
    if (this.level === null) throw new Error('LevelStorage: open() first')
    return this.level
  }

  async open(): Promise<void> {
    await this.refuseHeadless()
    // Created only now: a ClassicLevel opens itself (creating a database) once constructed.
    this.level = new ClassicLevel<string, Uint8Array>(this.dir, { keyEncoding: 'utf8', valueEncoding: 'view' })
    try {
      await this.db.open()
    } catch (err) {
      const cause = (err as { cause?: { message?: string; code?: string } }).cause
      const reason = cause?.message ?? (err as Error).message
      throw new StorageOpenError(this.dir, reason, cause?.code === 'LEVEL_LOCKED', { cause: err })
    }
    const heads = await this.heads.read()
    if (heads === 'unreadable') {
      this.warn(`the head record ${this.heads.path} is unreadable (${this.heads.problem}); logs cut short before now cannot be detected`)
    }
    if ((await this.db.get(FORMAT_KEY)) === undefined) {
      if (heads === 'ok') this.warn(`the integrity format marker is missing from ${this.dir}; checking every room against the head record`)
      await this.upgrade()
      if (heads === 'missing') await this.heads.flush(true)
    } else if (heads === 'missing') {
      this.warn(`the head record ${this.heads.path} is missing; logs cut short before now cannot be detected`)
    }
  }

  private warn(message: string): void {
    this.warnings.push(message)
    process.emitWarning(message, { code: 'YROOM_STORAGE' })
  }

  /**
   * LevelDB opens a directory without CURRENT as a new, empty database and deletes the
   * tables it finds there. Refuse instead: `yroom repair` rebuilds CURRENT from the tables.
   */
  private async refuseHeadless(): Promise<void> {
    let files: string[]
    try {
      files = await readdir(this.dir)
    } catch {
      return // no directory yet: a new database
    }
    if (files.includes('CURRENT')) return
    if (files.some((f) => /^(MANIFEST-\d+|\d+\.(log|ldb|sst))$/.test(f))) {
      throw new StorageOpenError(this.dir, 'LevelDB files are present but the CURRENT file is missing', false)
    }
  }

  /**
   * First open of a directory with this format: records, per room whose log ends with raw
   * updates, the seq up to which raw entries are accepted. Written durably (into a table, out
   * of the log) before anything else.
   */
  private async upgrade(): Promise<void> {
    const ops: Array<{ type: 'put'; key: string; value: Uint8Array }> = []
    for (const room of await this.list()) {
      const [last] = await this.db.iterator({ gte: logPrefix(room), lt: logPrefix(room) + END, reverse: true, limit: 1 }).all()
      if (last && !isHeaded(last[1])) ops.push({ type: 'put', key: legacyKey(room), value: utf8.encode(String(this.seqOf(room, last[0]))) })
    }
    ops.push({ type: 'put', key: FORMAT_KEY, value: utf8.encode('1') })
    await this.db.batch(ops, { sync: true })
    // Flushes the memtable into a table: a damaged log cannot take the marks with it.
    await this.db.compactRange(FORMAT_KEY, FORMAT_KEY)
  }

  private seqOf(room: string, key: string): number {
    return parseInt(key.slice(logPrefix(room).length), 16)
  }

  /** Runs `op` after every earlier operation on this room (writes and checked reads). */
  private queue<T>(room: string, op: () => Promise<T>): Promise<T> {
    const prev = this.queues.get(room) ?? Promise.resolve()
    const next = prev.then(op, op)
    const tail = next.catch(() => undefined)
    this.queues.set(room, tail)
    void tail.then(() => {
      if (this.queues.get(room) === tail) this.queues.delete(room)
    })
    return next
  }

  private async legacyThrough(room: string): Promise<number> {
    const v = await this.db.get(legacyKey(room))
    return v === undefined ? 0 : Number(text.decode(v))
  }

  private async readLog(room: string): Promise<Array<{ seq: number; value: Uint8Array }>> {
    const entries = await this.db.iterator({ gte: logPrefix(room), lt: logPrefix(room) + END }).all()
    return entries.map(([k, value]) => ({ seq: this.seqOf(room, k), value }))
  }

  /** The head a room's log is checked against: what this process wrote, else the record. */
  private expectedHead(room: string): Head | undefined {
    return this.state.get(room)?.head ?? this.heads.get(room)
  }

  /** Reads and checks a room's log; throws StorageDamaged (and remembers it) on damage. */
  private async verified(room: string): Promise<{ updates: Uint8Array[]; v2: boolean[] | undefined; state: RoomState }> {
    const known = this.damaged.get(room)
    if (known) throw known
    const legacyThrough = await this.legacyThrough(room)
    const check = checkLog(room, await this.readLog(room), legacyThrough, this.expectedHead(room))
    if (check.damage.length > 0) {
      const err = new StorageDamaged(room, check.damage)
      this.damaged.set(room, err)
      throw err
    }
    const state: RoomState = { head: check.last ?? { seq: 0, chain: 0 }, legacyThrough }
    this.state.set(room, state)
    // Rooms written before the head record existed get one now.
    if (state.head.seq > 0) this.heads.set(room, state.head)
    const v2 = check.entries.some((e) => e.v2) ? check.entries.map((e) => e.v2) : undefined
    return { updates: check.entries.map((e) => e.payload), v2, state }
  }

  private async roomState(room: string): Promise<RoomState> {
    const known = this.damaged.get(room)
    if (known) throw known
    return this.state.get(room) ?? (await this.verified(room)).state
  }

  load(room: string): Promise<StoredDocument> {
    return this.queue(room, async () => {
      const { updates, v2, state } = await this.verified(room)
      return v2 ? { updates, seq: state.head.seq, v2 } : { updates, seq: state.head.seq }
    })
  }

  append(room: string, updates: Uint8Array[]): Promise<number> {
    return new Promise((resolve, reject) => {
      let waiting = this.appending.get(room)
      if (!waiting) {
        waiting = []
        this.appending.set(room, waiting)
        void this.queue(room, () => this.writeAppends(room))
      }
      waiting.push({ updates, resolve, reject })
    })
  }

  /**
   * Writes every append waiting for this room in one batch (appends that arrive while the
   * room's previous write runs are combined, as LevelDB would combine concurrent writes).
   */
  private async writeAppends(room: string): Promise<void> {
    const waiting = this.appending.get(room) ?? []
    this.appending.delete(room)
    try {
      const state = await this.roomState(room)
      const roomState = roomCrc(room)
      let { seq, chain } = state.head
      const batch: Array<{ type: 'put'; key: string; value: Uint8Array }> = []
      const lastSeqs: number[] = []
      for (const w of waiting) {
        for (const update of w.updates) {
          seq++
          const crc = entryCrc(roomState, seq, 0, update)
          chain = link(chain, crc)
          batch.push({ type: 'put', key: seqKey(room, seq), value: encodeEntry(update, 0, crc, chain) })
        }
        lastSeqs.push(seq)
      }
      if (batch.length > 0) {
        await this.db.batch(batch)
        state.head = { seq, chain }
        this.heads.set(room, state.head)
      }
      waiting.forEach((w, i) => w.resolve(lastSeqs[i]))
    } catch (err) {
      for (const w of waiting) w.reject(err)
    }
  }

  compact(room: string, merged: Uint8Array, through: number, encoding: UpdateEncoding = 'v1'): Promise<void> {
    return this.queue(room, async () => {
      const state = await this.roomState(room)
      const current = await this.db.get(seqKey(room, through))
      if (current === undefined) throw new Error(`cannot compact room ${JSON.stringify(room)} through ${through}: no such entry`)
      // Streamed (only the keys are kept): the bytes dropped count towards reclaiming them on disk.
      let dropped = 0
      const ops: Array<{ type: 'del'; key: string } | { type: 'put'; key: string; value: Uint8Array }> = []
      for await (const [key, value] of this.db.iterator({ gte: logPrefix(room), lte: seqKey(room, through) })) {
        dropped += key.length + value.byteLength
        if (key !== seqKey(room, through)) ops.push({ type: 'del', key })
      }
      // The base keeps the chain value of the entry it replaces: later entries link to it.
      const version = versionFor(encoding === 'v2')
      const crc = entryCrc(room, through, FLAG_BASE, merged, version)
      ops.push({ type: 'put', key: seqKey(room, through), value: encodeEntry(merged, FLAG_BASE, crc, chainOf(current), version) })
      const dropLegacy = state.legacyThrough > 0 && through >= state.legacyThrough
      if (dropLegacy) ops.push({ type: 'del', key: legacyKey(room) })
      await this.db.batch(ops)
      if (dropLegacy) state.legacyThrough = 0
      this.dropped += dropped
      this.droppedIn.add(room)
      this.reclaimSoon()
    })
  }

  /**
   * Compacts, on disk, the key ranges of the rooms compacted since the last time, once their
   * compactions dropped at least RECLAIM_MIN_BYTES and a quarter of what the logs take in
   * LevelDB's tables (so a large store is left to LevelDB's own compactions, which reach the
   * dropped values soon enough there). One at a time; rooms compacted meanwhile wait for the next.
   */
  private reclaimSoon(): void {
    if (this.reclaiming !== null) {
      this.reclaimAgain = true
      return
    }
    if (this.dropped < RECLAIM_MIN_BYTES || this.level === null) return
    const run = async (): Promise<void> => {
      const onDisk = await this.db.approximateSize(`u${SEP}`, `u${SEP}${END}`)
      if (this.dropped < onDisk / 4) return
      const rooms = [...this.droppedIn].sort()
      this.dropped = 0
      this.droppedIn.clear()
      // One range from the first room's log to the last's (a narrow one for a single room).
      const from = logPrefix(rooms[0])
      const to = logPrefix(rooms[rooms.length - 1]) + END
      await this.db.compactRange(from, to)
      // LevelDB writes a flushed memtable straight to level 2 when nothing there overlaps it,
      // and a manual compaction never takes the deepest overlapping level as its input: the
      // dropped values could stay in that table. Writing each room's first entry again (the
      // same value, on the room's queue so that no compaction replaces it meanwhile) puts a
      // table inside that one's key range one level above it, so a second pass merges them.
      for (const room of rooms) {
        await this.queue(room, async () => {
          const [first] = await this.db.iterator({ gte: logPrefix(room), lt: logPrefix(room) + END, limit: 1 }).all()
          if (first) await this.db.put(first[0], first[1])
        })
      }
      await this.db.compactRange(from, to)
    }
    this.reclaiming = run()
      .catch((err: Error) => this.warn(`cannot compact the data directory ${this.dir} after room compactions (${err.message}); LevelDB reclaims the space later`))
      .finally(() => {
        this.reclaiming = null
        if (this.reclaimAgain && this.level?.status === 'open') {
          this.reclaimAgain = false
          this.reclaimSoon()
        }
      })
  }

  async size(room: string): Promise<number> {
    let n = 0
    for await (const _ of this.db.keys({ gte: logPrefix(room), lt: logPrefix(room) + END })) n++
    return n
  }

  async list(): Promise<string[]> {
    const rooms: string[] = []
    let from = `u${SEP}`
    // Skip from room to room instead of scanning every log entry.
    for (;;) {
      const [key] = await this.db.keys({ gt: from, lt: `u${SEP}${END}`, limit: 1 }).all()
      if (key === undefined) return rooms
      const room = key.slice(2, key.indexOf(SEP, 2))
      rooms.push(room)
      from = logPrefix(room) + END
    }
  }

  delete(room: string): Promise<void> {
    return this.queue(room, async () => {
      // The head record first: a crash in between leaves a room that is merely unrecorded.
      await this.heads.remove(room)
      await this.db.clear({ gte: logPrefix(room), lt: logPrefix(room) + END })
      await this.db.clear({ gte: metaPrefix(room), lt: metaPrefix(room) + END })
      await this.db.del(legacyKey(room))
      this.state.delete(room)
      this.damaged.delete(room)
    })
  }

  async getMeta(room: string, key: string): Promise<Uint8Array | undefined> {
    return this.db.get(metaPrefix(room) + key)
  }

  async setMeta(room: string, key: string, value: Uint8Array): Promise<void> {
    await this.db.put(metaPrefix(room) + key, value)
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()])
    while (this.reclaiming !== null) await this.reclaiming
    try {
      await this.heads.close() // a failure was reported as a warning
    } catch {
      /* the log itself is intact; only the tail check of the next load is weaker */
    }
    await this.db.close()
  }

  // ---- checks and repair (yroom repair; the server does not use these) ----

  /** Every room with a log or a head record. */
  async storedRooms(): Promise<string[]> {
    return [...new Set([...(await this.list()), ...this.heads.rooms()])].sort()
  }

  /** Checks a room's log without loading it; never throws for damage. */
  check(room: string): Promise<LogCheck> {
    return this.queue(room, async () => checkLog(room, await this.readLog(room), await this.legacyThrough(room), this.expectedHead(room)))
  }

  /**
   * Accepts the loss in a damaged room: rewrites the log as the entries that passed their
   * checks (`keep` may add more, e.g. raw entries that decode as Yjs updates), renumbered
   * from the first kept seq and chained anew, and records the new head. A room with nothing
   * left is deleted.
   */
  repair(room: string, keep: (e: CheckedEntry) => boolean = (e) => e.ok): Promise<{ damage: Damage[]; kept: CheckedEntry[]; head: Head | null }> {
    return this.queue(room, async () => {
      const check = checkLog(room, await this.readLog(room), await this.legacyThrough(room), this.expectedHead(room))
      if (check.damage.length === 0) return { damage: [], kept: check.entries, head: check.last }
      const kept = check.entries.filter(keep)
      const ops: Array<{ type: 'del'; key: string } | { type: 'put'; key: string; value: Uint8Array }> = check.entries.map((e) => ({
        type: 'del' as const,
        key: seqKey(room, e.seq),
      }))
      ops.push({ type: 'del', key: legacyKey(room) })
      let head: Head | null = null
      if (kept.length > 0) {
        let seq = kept[0].seq
        let chain = 0
        for (const [i, e] of kept.entries()) {
          const flags = i === 0 ? FLAG_BASE : 0
          const version = versionFor(e.v2)
          const crc = entryCrc(room, seq, flags, e.payload, version)
          chain = i === 0 ? link(0, crc) : link(chain, crc)
          ops.push({ type: 'put', key: seqKey(room, seq), value: encodeEntry(e.payload, flags, crc, chain, version) })
          seq++
        }
        head = { seq: seq - 1, chain }
      }
      await this.db.batch(ops, { sync: true })
      this.damaged.delete(room)
      if (head) {
        this.state.set(room, { head, legacyThrough: 0 })
        this.heads.set(room, head)
        await this.heads.flush()
      } else {
        this.state.delete(room)
        await this.heads.remove(room)
      }
      return { damage: check.damage, kept, head }
    })
  }

  /** Rebuilds LevelDB's MANIFEST and CURRENT from the table and log files (LevelDB's RepairDB). */
  static async repairLevelDb(dir: string): Promise<void> {
    await ClassicLevel.repair(dir)
  }
}
