/**
 * Embedded LevelDB storage (the default, `--data ./data`).
 *
 * Keys (utf8; room names never contain control characters, so NUL separates safely):
 *   `u\0<room>\0<seq:16 hex>` → one Yjs update (log entry)
 *   `m\0<room>\0<key>`        → metadata record
 * Sequence numbers are allocated in-process per room; LevelDB allows one process per
 * directory, so this needs no lock. Writes are not fsynced individually: a killed server
 * process loses nothing (the OS has the data), only a machine crash could.
 */
import { ClassicLevel } from 'classic-level'
import type { Storage, StoredDocument } from './storage.js'

const SEP = '\u0000'
const logPrefix = (room: string) => `u${SEP}${room}${SEP}`
const metaPrefix = (room: string) => `m${SEP}${room}${SEP}`
const seqKey = (room: string, seq: number) => logPrefix(room) + seq.toString(16).padStart(16, '0')
/** Upper bound for range scans: U+FFFF sorts after every key character we use. */
const END = '\uffff'

export class LevelStorage implements Storage {
  private db: ClassicLevel<string, Uint8Array>
  private seqs = new Map<string, Promise<number>>()

  constructor(private dir: string) {
    this.db = new ClassicLevel<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' })
  }

  async open(): Promise<void> {
    await this.db.open()
  }

  /** Last allocated seq of a room, read from disk once and then kept in memory. */
  private lastSeq(room: string): Promise<number> {
    let p = this.seqs.get(room)
    if (!p) {
      p = (async () => {
        const keys = await this.db.keys({ gte: logPrefix(room), lt: logPrefix(room) + END, reverse: true, limit: 1 }).all()
        return keys.length === 0 ? 0 : parseInt(keys[0].slice(logPrefix(room).length), 16)
      })()
      this.seqs.set(room, p)
    }
    return p
  }

  async load(room: string): Promise<StoredDocument> {
    const entries = await this.db.iterator({ gte: logPrefix(room), lt: logPrefix(room) + END }).all()
    const seq = entries.length === 0 ? 0 : parseInt(entries[entries.length - 1][0].slice(logPrefix(room).length), 16)
    return { updates: entries.map(([, v]) => v), seq }
  }

  async append(room: string, updates: Uint8Array[]): Promise<number> {
    if (updates.length === 0) return this.lastSeq(room)
    // Allocate the seq range synchronously after the previous allocation resolves, so
    // concurrent appends to one room never share a key.
    const prev = this.lastSeq(room)
    const next = prev.then((s) => s + updates.length)
    this.seqs.set(room, next)
    const first = (await prev) + 1
    const batch = updates.map((value, i) => ({ type: 'put' as const, key: seqKey(room, first + i), value }))
    await this.db.batch(batch)
    return first + updates.length - 1
  }

  async compact(room: string, merged: Uint8Array, through: number): Promise<void> {
    const keys = await this.db.keys({ gte: logPrefix(room), lte: seqKey(room, through) }).all()
    const ops: Array<{ type: 'del'; key: string } | { type: 'put'; key: string; value: Uint8Array }> = keys
      .filter((k) => k !== seqKey(room, through))
      .map((key) => ({ type: 'del' as const, key }))
    ops.push({ type: 'put', key: seqKey(room, through), value: merged })
    await this.db.batch(ops)
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

  async delete(room: string): Promise<void> {
    await this.db.clear({ gte: logPrefix(room), lt: logPrefix(room) + END })
    await this.db.clear({ gte: metaPrefix(room), lt: metaPrefix(room) + END })
    this.seqs.delete(room)
  }

  async getMeta(room: string, key: string): Promise<Uint8Array | undefined> {
    return this.db.get(metaPrefix(room) + key)
  }

  async setMeta(room: string, key: string, value: Uint8Array): Promise<void> {
    await this.db.put(metaPrefix(room) + key, value)
  }

  async close(): Promise<void> {
    await this.db.close()
  }
}

/** Creates the storage named by a `--data` value: `:memory:` or a LevelDB directory. */
export async function openStorage(data: string): Promise<Storage> {
  if (data === ':memory:') {
    const { MemoryStorage } = await import('./memory.js')
    return new MemoryStorage()
  }
  const s = new LevelStorage(data)
  await s.open()
  return s
}
