/** In-memory storage (`--data :memory:`): same semantics as LevelDB, nothing survives the process. */
import type { Storage, StoredDocument, UpdateEncoding } from './storage.js'

interface MemoryRoom {
  log: Map<number, Uint8Array>
  seq: number
  /** The seq of a snapshot compacted in Yjs V2 (0: none). */
  v2At: number
  meta: Map<string, Uint8Array>
}

export class MemoryStorage implements Storage {
  /** Compacted snapshots are stored in Yjs V2 (Storage.snapshotEncoding). */
  readonly snapshotEncoding = 'v2'
  private rooms = new Map<string, MemoryRoom>()

  private room(name: string): MemoryRoom {
    let r = this.rooms.get(name)
    if (!r) {
      r = { log: new Map(), seq: 0, v2At: 0, meta: new Map() }
      this.rooms.set(name, r)
    }
    return r
  }

  async load(room: string): Promise<StoredDocument> {
    const r = this.rooms.get(room)
    if (!r) return { updates: [], seq: 0 }
    if (r.v2At === 0 || !r.log.has(r.v2At)) return { updates: [...r.log.values()], seq: r.seq }
    return { updates: [...r.log.values()], seq: r.seq, v2: [...r.log.keys()].map((seq) => seq === r.v2At) }
  }

  async append(room: string, updates: Uint8Array[]): Promise<number> {
    const r = this.room(room)
    for (const u of updates) r.log.set(++r.seq, u)
    return r.seq
  }

  async compact(room: string, merged: Uint8Array, through: number, encoding: UpdateEncoding = 'v1'): Promise<void> {
    const r = this.room(room)
    const rest = [...r.log].filter(([seq]) => seq > through)
    r.log = new Map([[through, merged], ...rest])
    r.v2At = encoding === 'v2' ? through : 0
  }

  async size(room: string): Promise<number> {
    return this.rooms.get(room)?.log.size ?? 0
  }

  async list(): Promise<string[]> {
    return [...this.rooms.keys()].filter((n) => this.rooms.get(n)!.log.size > 0)
  }

  async delete(room: string): Promise<void> {
    this.rooms.delete(room)
  }

  async getMeta(room: string, key: string): Promise<Uint8Array | undefined> {
    return this.rooms.get(room)?.meta.get(key)
  }

  async setMeta(room: string, key: string, value: Uint8Array): Promise<void> {
    this.room(room).meta.set(key, value)
  }

  async close(): Promise<void> {}
}
