/**
 * The inspector's room list: every stored room and every room loaded here, with its clients,
 * size and update rate. It runs only while a page shows it; updates are counted per room
 * only then (the plugin's afterApply returns at once otherwise).
 */
import type { Room } from '../../server/room/room.js'
import type { EventStream } from './sse.js'
import type { WatchEnv } from './room-watch.js'

export interface RoomRow {
  name: string
  /** live: loaded on this node; remote: served by another node (cluster mode); stored: not loaded anywhere. */
  where: 'live' | 'remote' | 'stored'
  /** Clients in the room (loaded here: connected through any node). */
  clients: number | null
  /** Encoded size in bytes, at most (loaded rooms: the size cap's upper bound). */
  size: number | null
  updatesPerSecond: number
}

const TICK_MS = 1000
/** Storage is listed this often (a listing reads every room's name). */
const LIST_MS = 5000
/** Rows sent at most (loaded rooms first). */
const MAX_ROWS = 2000

export class RoomList {
  readonly streams = new Set<EventStream>()
  /** Updates per room within the current second. */
  private counts = new Map<string, number>()
  private rates = new Map<string, number>()
  private stored: string[] = []
  private remote = new Set<string>()
  private lastList = -Infinity
  private listing = false
  private ticker: NodeJS.Timeout | null = null

  constructor(private env: WatchEnv) {}

  get active(): boolean {
    return this.streams.size > 0
  }

  add(stream: EventStream): void {
    this.streams.add(stream)
    stream.send('hello', { node: this.env.node ?? null })
    stream.send('rooms', this.rows())
    if (!this.ticker) {
      this.ticker = setInterval(() => this.tick(), TICK_MS)
      this.ticker.unref()
      this.env.counters.timers++
      void this.list()
    }
  }

  remove(stream: EventStream): void {
    this.streams.delete(stream)
    if (this.streams.size > 0 || !this.ticker) return
    clearInterval(this.ticker)
    this.ticker = null
    this.env.counters.timers--
    this.counts.clear()
    this.rates.clear()
    this.lastList = -Infinity
  }

  noteUpdate(room: string): void {
    this.counts.set(room, (this.counts.get(room) ?? 0) + 1)
  }

  private async list(): Promise<void> {
    if (this.listing) return
    this.listing = true
    this.lastList = performance.now()
    try {
      const stored = await this.env.storage.list()
      const unleased = this.env.storage.unleased ? new Set(await this.env.storage.unleased(stored)) : null
      this.stored = stored
      this.remote = new Set(unleased ? stored.filter((n) => !unleased.has(n)) : [])
    } catch {
      // listed again at the next interval
    } finally {
      this.listing = false
    }
  }

  private tick(): void {
    this.rates = this.counts
    this.counts = new Map()
    if (performance.now() - this.lastList >= LIST_MS) void this.list()
    const rows = this.rows()
    for (const s of this.streams) s.send('rooms', rows)
  }

  private rows(): RoomRow[] {
    const loaded = this.env.rooms.all as ReadonlyMap<string, Room>
    const rows: RoomRow[] = []
    for (const [name, room] of loaded) {
      rows.push({ name, where: 'live', clients: room.connections.size, size: room.size.bound, updatesPerSecond: this.rates.get(name) ?? 0 })
    }
    for (const name of this.stored) {
      if (rows.length >= MAX_ROWS) break
      if (loaded.has(name)) continue
      rows.push({ name, where: this.remote.has(name) ? 'remote' : 'stored', clients: null, size: null, updatesPerSecond: 0 })
    }
    return rows.sort((a, b) => (a.where === 'live') !== (b.where === 'live') ? (a.where === 'live' ? -1 : 1) : a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
  }
}
