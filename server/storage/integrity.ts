/**
 * Integrity of a room's stored log (SPEC §12: damaged storage is detected on load and
 * reported with what was lost; the server never serves silently truncated or wrong data).
 *
 * Every log entry written by LevelStorage carries an 18-byte header before the Yjs update:
 *
 *   0..7    FF FF FF FF FF FF FF FF   marker. Read as a Yjs update it is a var-uint above
 *                                     2^53, which lib0 refuses, so no update Yjs accepted (and
 *                                     so no entry written before this format) starts with it.
 *   8       format version: 1 = the update is in Yjs update format V1, 2 = in V2 (a compacted
 *           snapshot; V2 is about half the size of V1 for text). A reader that knows only
 *           version 1 reports a version 2 entry as corrupt rather than misreading it.
 *   9       flags: bit 0 = BASE (a compaction's merged entry; it does not link to an earlier one)
 *   10..13  crc32, big-endian, of: room name (UTF-8), 0x00, seq (8 bytes BE), version, flags, update
 *   14..17  chain value, big-endian: crc32(previous chain ‖ this crc) (both 4 bytes BE), where
 *           the previous chain is that of the entry at seq-1 (0 before seq 1 and after an
 *           entry without header); a BASE keeps the chain value of the entry it replaced, so
 *           the entries after it still link to it.
 *
 * A load checks, per entry: the header, the checksum, that entries are consecutive from the
 * first one (which is a BASE or seq 1), that each links to the one before; and against the
 * head record kept outside LevelDB (HeadFile below): that the log reaches the recorded last
 * seq and that the entry there has the recorded chain value. LevelDB's own log replay drops a
 * torn or corrupt tail without an error, so only a reference kept elsewhere can tell.
 *
 * The checks are against accidents (a damaged disk, a truncated file, a lost MANIFEST), not
 * against someone who can write the data directory: crc32 is not a MAC.
 */
import { open, readFile, rename } from 'node:fs/promises'
import { join } from 'node:path'
import { crc32Final, crc32Update, CRC32_INIT } from './crc32.js'

/** Header version of an entry whose update is in Yjs update format V1. */
export const FORMAT_VERSION = 1
/** Header version of an entry whose update is in Yjs update format V2 (compacted snapshots). */
export const FORMAT_VERSION_V2 = 2
/** The header version for an update in the given Yjs encoding. */
export const versionFor = (v2: boolean): number => (v2 ? FORMAT_VERSION_V2 : FORMAT_VERSION)
export const HEADER_BYTES = 18
const MARKER_BYTES = 8
export const FLAG_BASE = 1

const utf8 = new TextEncoder()

/** True when a stored value starts with the header marker (written by this format). */
export function isHeaded(value: Uint8Array): boolean {
  if (value.length < MARKER_BYTES) return false
  for (let i = 0; i < MARKER_BYTES; i++) if (value[i] !== 0xff) return false
  return true
}

/** The checksum register after the room name and its terminating 0x00 (see roomCrc). */
export function roomCrc(room: string): number {
  return crc32Update(crc32Update(CRC32_INIT, utf8.encode(room)), ZERO)
}
const ZERO = new Uint8Array(1)
const scratch = new Uint8Array(10)

/** Writes `n` (< 2^53) as 8 bytes big-endian at `at`. */
function putU64(out: Uint8Array, at: number, n: number): void {
  const hi = Math.floor(n / 0x1_0000_0000)
  putU32(out, at, hi)
  putU32(out, at + 4, n >>> 0)
}

function putU32(out: Uint8Array, at: number, n: number): void {
  out[at] = n >>> 24
  out[at + 1] = (n >>> 16) & 0xff
  out[at + 2] = (n >>> 8) & 0xff
  out[at + 3] = n & 0xff
}

function getU32(b: Uint8Array, at: number): number {
  return ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0
}

/**
 * The entry checksum: binds the update to its room and its place in the log. `room` is the
 * room name or, to save recomputing it per entry, its roomCrc.
 */
export function entryCrc(room: string | number, seq: number, flags: number, payload: Uint8Array, version = FORMAT_VERSION): number {
  putU64(scratch, 0, seq)
  scratch[8] = version
  scratch[9] = flags
  let c = crc32Update(typeof room === 'number' ? room : roomCrc(room), scratch)
  c = crc32Update(c, payload)
  return crc32Final(c)
}

/** The chain value of an entry whose predecessor has chain value `prev`. */
export function link(prev: number, crc: number): number {
  putU32(scratch, 0, prev)
  putU32(scratch, 4, crc)
  return crc32Final(crc32Update(CRC32_INIT, scratch.subarray(0, 8)))
}

/** A stored value: header + update (`version` as for entryCrc). */
export function encodeEntry(payload: Uint8Array, flags: number, crc: number, chain: number, version = FORMAT_VERSION): Uint8Array {
  const out = new Uint8Array(HEADER_BYTES + payload.length)
  out.fill(0xff, 0, MARKER_BYTES)
  out[8] = version
  out[9] = flags
  putU32(out, 10, crc)
  putU32(out, 14, chain)
  out.set(payload, HEADER_BYTES)
  return out
}

export interface EntryHeader {
  version: number
  flags: number
  crc: number
  chain: number
  payload: Uint8Array
}

/** The header of a headed value, or a string saying why it cannot be read. */
export function decodeEntry(value: Uint8Array): EntryHeader | string {
  if (value.length < HEADER_BYTES) return 'header cut short'
  if (value[8] !== FORMAT_VERSION && value[8] !== FORMAT_VERSION_V2) return `unknown format version ${value[8]}`
  return { version: value[8], flags: value[9], crc: getU32(value, 10), chain: getU32(value, 14), payload: value.subarray(HEADER_BYTES) }
}

/** The value the entry after `value` links to: its chain value; 0 for an entry without header. */
export function chainOf(value: Uint8Array): number {
  if (!isHeaded(value)) return 0
  const h = decodeEntry(value)
  return typeof h === 'string' ? 0 : h.chain
}

/** One problem found in a room's log. */
export type Damage =
  /** Entries from..to are not in the log (from undefined: every entry up to `to`). */
  | { kind: 'missing'; from?: number; to: number }
  /** The entry is there but cannot be trusted. */
  | { kind: 'corrupt'; seq: number; detail: string }
  /** The entry is intact but does not follow the one before it (a different history). */
  | { kind: 'chain'; seq: number }
  /** The entry at the recorded head has another chain value than the head record. */
  | { kind: 'head'; seq: number }
  /** Entries older than the compaction base are still in the log. */
  | { kind: 'stray'; seq: number; base: number }

const range = (from: number, to: number) => (from === to ? `entry ${from}` : `entries ${from}–${to}`)

/** The entries a 'missing' damage names: "entry 4", "entries 12–14", "entries up to 9". */
export function missingEntries(d: { from?: number; to: number }): string {
  return d.from === undefined ? (d.to === 1 ? 'entry 1' : `entries up to ${d.to}`) : range(d.from, d.to)
}

export function describeDamage(d: Damage): string {
  switch (d.kind) {
    case 'missing':
      return `${missingEntries(d)} missing`
    case 'corrupt':
      return `entry ${d.seq} corrupt (${d.detail})`
    case 'chain':
      return `entry ${d.seq} does not follow entry ${d.seq - 1}`
    case 'head':
      return `entry ${d.seq} differs from the head record`
    case 'stray':
      return `entry ${d.seq} is older than the compaction base ${d.base}`
  }
}

/** Every problem, runs of consecutive entries with the same problem said once ("entries 4–90 corrupt (...)"). */
export function describeDamages(damage: readonly Damage[]): string {
  const parts: string[] = []
  for (let i = 0; i < damage.length; i++) {
    const d = damage[i]
    if (d.kind !== 'corrupt' && d.kind !== 'stray') {
      parts.push(describeDamage(d))
      continue
    }
    let j = i
    while (j + 1 < damage.length && sameRun(damage[j], damage[j + 1])) j++
    if (j === i) parts.push(describeDamage(d))
    else {
      const to = (damage[j] as { seq: number }).seq
      parts.push(
        d.kind === 'corrupt' ? `entries ${d.seq}–${to} corrupt (${d.detail})` : `entries ${d.seq}–${to} are older than the compaction base ${d.base}`,
      )
    }
    i = j
  }
  return parts.join('; ')
}

function sameRun(a: Damage, b: Damage): boolean {
  if (a.kind === 'corrupt' && b.kind === 'corrupt') return b.seq === a.seq + 1 && b.detail === a.detail
  if (a.kind === 'stray' && b.kind === 'stray') return b.seq === a.seq + 1 && b.base === a.base
  return false
}

/**
 * A room's stored log failed the integrity check. The room must not be served: its state
 * would be truncated or wrong. `yroom repair` accepts the loss.
 */
export class StorageDamaged extends Error {
  readonly code = 'YROOM_STORAGE_DAMAGED'
  constructor(
    readonly room: string,
    readonly damage: readonly Damage[],
  ) {
    super(`stored state of room ${JSON.stringify(room)} is damaged: ${describeDamages(damage)} (yroom repair accepts the loss)`)
    this.name = 'StorageDamaged'
  }

  /** What was found, without the room name. */
  get summary(): string {
    return describeDamages(this.damage)
  }

  /** The reason sent to the room's clients with close code 1011 (cut to fit by the sender). */
  get closeReason(): string {
    return `stored state of this room is damaged: ${this.summary}`
  }
}

/** The last entry of a room's log as recorded outside LevelDB. */
export interface Head {
  seq: number
  chain: number
}

export interface StoredEntry {
  seq: number
  value: Uint8Array
}

export interface CheckedEntry {
  seq: number
  /** The Yjs update. */
  payload: Uint8Array
  /** Passed the checks (a raw entry from before the format counts when below the upgrade mark). */
  ok: boolean
  /** Written without header (by a yroom from before this format). */
  raw: boolean
  flags: number
  /** The payload is in Yjs update format V2 (header version 2); else V1. */
  v2: boolean
}

export interface LogCheck {
  entries: CheckedEntry[]
  damage: Damage[]
  /** The log's last entry (seq and the chain value the next entry links to); null when empty. */
  last: Head | null
}

/**
 * Checks a room's log (entries in seq order). `legacyThrough`: entries up to this seq may be
 * raw Yjs updates (the log as it was when the directory was first opened with this format).
 * `head`: the head record, when there is one.
 */
export function checkLog(room: string, log: readonly StoredEntry[], legacyThrough: number, head: Head | undefined): LogCheck {
  const entries: CheckedEntry[] = []
  const damage: Damage[] = []
  const roomState = roomCrc(room)
  /** seq and chain value (null: unknown) of the entry before. */
  let prev: { seq: number; chain: number | null } | null = null
  for (const { seq, value } of log) {
    if (!isHeaded(value)) {
      // Written before this format (no continuity check: older versions could leave gaps).
      const ok = seq <= legacyThrough
      if (!ok) damage.push({ kind: 'corrupt', seq, detail: 'no integrity header' })
      entries.push({ seq, payload: value, ok, raw: true, flags: 0, v2: false })
      prev = { seq, chain: ok ? 0 : null }
      continue
    }
    const h = decodeEntry(value)
    if (typeof h === 'string') {
      damage.push({ kind: 'corrupt', seq, detail: h })
      entries.push({ seq, payload: value.subarray(Math.min(value.length, HEADER_BYTES)), ok: false, raw: false, flags: 0, v2: false })
      prev = { seq, chain: null }
      continue
    }
    let ok = true
    if (entryCrc(roomState, seq, h.flags, h.payload, h.version) !== h.crc) {
      damage.push({ kind: 'corrupt', seq, detail: 'checksum mismatch' })
      ok = false
    }
    if (h.flags & FLAG_BASE) {
      if (prev !== null) for (const e of entries) damage.push({ kind: 'stray', seq: e.seq, base: seq })
    } else if (prev === null) {
      if (seq !== 1) damage.push({ kind: 'missing', to: seq - 1 })
      else if (ok && h.chain !== link(0, h.crc)) damage.push({ kind: 'chain', seq })
    } else if (seq !== prev.seq + 1) {
      damage.push({ kind: 'missing', from: prev.seq + 1, to: seq - 1 })
    } else if (ok && prev.chain !== null && h.chain !== link(prev.chain, h.crc)) {
      damage.push({ kind: 'chain', seq })
    }
    entries.push({ seq, payload: h.payload, ok, raw: false, flags: h.flags, v2: h.version === FORMAT_VERSION_V2 })
    prev = { seq, chain: h.chain }
  }
  const last = prev === null ? null : { seq: prev.seq, chain: prev.chain ?? 0 }
  if (head !== undefined && head.seq > 0) {
    const lastSeq = prev?.seq ?? 0
    if (lastSeq < head.seq) {
      damage.push(lastSeq === 0 ? { kind: 'missing', to: head.seq } : { kind: 'missing', from: lastSeq + 1, to: head.seq })
    } else {
      // Not there: compacted away since (a base above it), nothing to compare. Corrupt: reported.
      const at = log.find((e) => e.seq === head.seq)
      const checked = entries.find((e) => e.seq === head.seq)
      if (at !== undefined && checked?.ok && chainOf(at.value) !== head.chain) damage.push({ kind: 'head', seq: head.seq })
    }
  }
  return { entries, damage, last }
}

/** File name of the head record in the data directory (not a name LevelDB uses or removes). */
export const HEAD_FILE = 'yroom-heads.json'

/**
 * The head record: per room, the seq and chain value of the last entry written. Kept outside
 * LevelDB's log in a small JSON file, rewritten atomically (temporary file, fsync, rename,
 * fsync of the directory) at most every `intervalMs` after appends, at once when a room is
 * deleted, and on close. Appends themselves are not fsynced and do not wait for it.
 */
export class HeadFile {
  private heads = new Map<string, Head>()
  private timer: NodeJS.Timeout | null = null
  private writing: Promise<void> = Promise.resolve()
  private dirty = false
  private interval: number
  /** Why the file could not be used when read, if so. */
  problem: string | null = null

  private failing = false
  private closed = false

  constructor(
    readonly dir: string,
    private minIntervalMs = 250,
    private maxIntervalMs = 1000,
    /** Told when a write fails (once, until a write succeeds again); the file is retried. */
    private onError: (err: Error) => void = () => undefined,
  ) {
    this.interval = minIntervalMs
  }

  get path(): string {
    return join(this.dir, HEAD_FILE)
  }

  /** Reads the file: 'missing' when there is none, 'unreadable' (see `problem`), or 'ok'. */
  async read(): Promise<'ok' | 'missing' | 'unreadable'> {
    let text: string
    try {
      text = await readFile(this.path, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'missing'
      this.problem = (err as Error).message
      return 'unreadable'
    }
    try {
      const data = JSON.parse(text) as { format?: unknown; rooms?: unknown }
      if (data.format !== 1 || typeof data.rooms !== 'object' || data.rooms === null) throw new Error('not a yroom head file')
      for (const [room, rec] of Object.entries(data.rooms as Record<string, unknown>)) {
        if (!Array.isArray(rec) || !Number.isSafeInteger(rec[0]) || typeof rec[1] !== 'string' || !/^[0-9a-f]{8}$/.test(rec[1])) {
          throw new Error(`bad record for room ${JSON.stringify(room)}`)
        }
        this.heads.set(room, { seq: rec[0] as number, chain: parseInt(rec[1], 16) })
      }
      return 'ok'
    } catch (err) {
      this.heads.clear()
      this.problem = (err as Error).message
      return 'unreadable'
    }
  }

  get(room: string): Head | undefined {
    return this.heads.get(room)
  }

  rooms(): string[] {
    return [...this.heads.keys()]
  }

  /** Records a room's new head; written within the flush interval. */
  set(room: string, head: Head): void {
    const cur = this.heads.get(room)
    if (cur && cur.seq === head.seq && cur.chain === head.chain) return
    this.heads.set(room, { seq: head.seq, chain: head.chain })
    this.dirty = true
    this.schedule()
  }

  private schedule(): void {
    if (this.timer === null && !this.closed) {
      this.timer = setTimeout(() => {
        this.timer = null
        void this.flush().catch(() => undefined)
      }, this.interval)
      this.timer.unref()
    }
  }

  /** Forgets a room and writes the file before resolving (a deleted room is not "missing"). */
  async remove(room: string): Promise<void> {
    if (!this.heads.delete(room)) return
    this.dirty = true
    await this.flush()
  }

  /** Writes the file now if anything changed (or `force`). Writes never overlap. */
  flush(force = false): Promise<void> {
    const run = async () => {
      if (!this.dirty && !force) return
      this.dirty = false
      const started = performance.now()
      try {
        await this.write()
        this.failing = false
      } catch (err) {
        this.dirty = true
        if (!this.failing) this.onError(err as Error)
        this.failing = true
        this.schedule()
        throw err
      }
      // A large file (many rooms) is written less often, up to maxIntervalMs apart.
      const took = performance.now() - started
      this.interval = Math.min(this.maxIntervalMs, Math.max(this.minIntervalMs, 10 * took))
    }
    const next = this.writing.then(run, run)
    this.writing = next.catch(() => undefined)
    return next
  }

  private async write(): Promise<void> {
    const rooms: Record<string, [number, string]> = {}
    for (const [room, h] of this.heads) rooms[room] = [h.seq, h.chain.toString(16).padStart(8, '0')]
    const text = JSON.stringify({ format: 1, about: 'yroom: seq and chain value of the last log entry of each room', rooms })
    const tmp = `${this.path}.tmp`
    const fh = await open(tmp, 'w')
    try {
      await fh.writeFile(text)
      await fh.sync()
    } finally {
      await fh.close()
    }
    await rename(tmp, this.path)
    // The rename itself is durable once the directory is synced (not possible on Windows).
    try {
      const d = await open(this.dir, 'r')
      try {
        await d.sync()
      } finally {
        await d.close()
      }
    } catch {
      /* best effort */
    }
  }

  /** Stops the timer and writes what is pending. */
  async close(): Promise<void> {
    this.closed = true
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    await this.flush()
  }
}
