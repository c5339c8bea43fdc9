/**
 * One room as open inspectors see it. It exists only while a page watches the room: then it
 * listens to the room's document (changes flash on the page), counts its updates and keeps a
 * log; when the last page closes it detaches and is dropped, and the room does no inspector
 * work again (the plugin's hooks return at once for rooms nobody watches).
 *
 * A room loaded on this node is watched live. A room that is not (stored only, or served by
 * another node in cluster mode) is read through the node's own read path (`rooms.read`, a
 * copy from storage, which never loads the room nor takes its lease) every few seconds.
 */
import * as Y from 'yjs'
import type { Connection } from '../../server/transport/connection.js'
import type { Rooms } from '../../server/room/rooms.js'
import type { Storage } from '../../server/storage/storage.js'
import type { EventStream, InspectorCounters } from './sse.js'
import { LOG_ENTRIES, type LogEntry } from './log.js'
import { Rate, Ring } from './rates.js'
import { ownersOf, snapshotTree, type TreeNode } from './tree.js'

/** What a watch reads the server through. */
export interface WatchEnv {
  rooms: Rooms
  storage: Storage
  /** Cluster mode: this node's name. */
  node?: string
  /** What inspectors cost (sse.ts): each ticker counts while it runs. */
  counters: InspectorCounters
}

/** Where the room is, as this node sees it. */
export type RoomMode = 'live' | 'stored' | 'remote'

export interface ClientInfo {
  conn: number
  principal: string
  anonymous: boolean
  clientIDs: number[]
  /** The node the client is connected to (cluster mode), else null. */
  node: string | null
  readOnly: boolean
  updatesPerSecond: number
  bytesPerSecond: number
  rejected: number
}

export interface SeriesPoint {
  t: number
  size: number
  updatesPerSecond: number
}

const TICK_MS = 1000
/** A room not loaded here is read again this often. */
const POLL_MS = 2000
/** Changes arriving within this are drawn together. */
const TREE_DELAY_MS = 150
/** Sizes up to this are measured exactly each second the document changed. */
const EXACT_SIZE_BYTES = 4 * 1024 * 1024
/** Timeline length: ten minutes of seconds. */
const SERIES_POINTS = 600

interface ConnCounts {
  updates: Rate
  bytes: Rate
  rejected: number
}

export class RoomWatch {
  readonly streams = new Set<EventStream>()
  private readonly log = new Ring<LogEntry>(LOG_ENTRIES)
  private readonly series = new Ring<SeriesPoint>(SERIES_POINTS)
  private readonly updates = new Rate()
  private readonly conns = new Map<Connection, ConnCounts>()
  private mode: RoomMode = 'stored'
  private tree: TreeNode[] = []
  private owners: Map<string, number> | null = null
  private size = 0
  /** The live room's document, while attached. */
  private doc: Y.Doc | null = null
  private treeTimer: NodeJS.Timeout | null = null
  private sizeStale = true
  private ticker: NodeJS.Timeout
  private lastPoll = -Infinity
  private polling = false
  disposed = false

  constructor(
    readonly name: string,
    private env: WatchEnv,
  ) {
    this.ticker = setInterval(() => this.tick(), TICK_MS)
    this.ticker.unref()
    env.counters.timers++
    this.follow()
  }

  /** A page opened the room: it gets everything known so far, then the live events. */
  add(stream: EventStream): void {
    this.streams.add(stream)
    stream.send('hello', { room: this.name, node: this.env.node ?? null, mode: this.mode })
    stream.send('tree', { tree: this.tree, flash: false })
    stream.send('clients', this.clients())
    stream.send('series', this.series.toArray())
    stream.send('log', this.log.toArray())
  }

  /** Returns true when no page watches the room any more (the watch is then disposed). */
  remove(stream: EventStream): boolean {
    this.streams.delete(stream)
    if (this.streams.size > 0) return false
    this.dispose()
    return true
  }

  dispose(): void {
    if (this.disposed) return
    this.disposed = true
    clearInterval(this.ticker)
    this.env.counters.timers--
    if (this.treeTimer) clearTimeout(this.treeTimer)
    this.detach()
    for (const s of this.streams) s.end()
    this.streams.clear()
  }

  private broadcast(event: string, data: unknown): void {
    for (const s of this.streams) s.send(event, data)
  }

  // --- what the plugin's hooks report (only for watched rooms) ---

  noteUpdate(conn: Connection, bytes: number): void {
    this.updates.add()
    const c = this.counts(conn)
    c.updates.add()
    c.bytes.add(bytes)
  }

  noteRejected(conn: Connection, n: number): void {
    this.counts(conn).rejected += n
  }

  addLog(entry: LogEntry): void {
    this.log.push(entry)
    this.broadcast('log', [entry])
  }

  /** The connection left: its counts go (the log keeps the leave). */
  forget(conn: Connection): void {
    this.conns.delete(conn)
  }

  private counts(conn: Connection): ConnCounts {
    let c = this.conns.get(conn)
    if (!c) this.conns.set(conn, (c = { updates: new Rate(), bytes: new Rate(), rejected: 0 }))
    return c
  }

  // --- the document ---

  /** Attaches to the room when it is loaded here, detaches when it is gone. */
  follow(): void {
    const room = this.env.rooms.get(this.name)
    const doc = room && !room.closed ? room.doc : null
    if (doc === this.doc) return
    this.detach()
    if (doc) {
      this.doc = doc
      doc.on('afterTransaction', this.onTransaction)
      this.setMode('live')
      this.sizeStale = true
      this.refreshTree()
    }
  }

  private detach(): void {
    if (!this.doc) return
    this.doc.off('afterTransaction', this.onTransaction)
    this.doc = null
    this.lastPoll = -Infinity
  }

  private setMode(mode: RoomMode): void {
    if (mode === this.mode) return
    this.mode = mode
    this.broadcast('hello', { room: this.name, node: this.env.node ?? null, mode })
  }

  private onTransaction = (tr: Y.Transaction): void => {
    if (tr.changed.size === 0 && tr.deleteSet.clients.size === 0) return
    this.sizeStale = true
    this.treeTimer ??= setTimeout(() => {
      this.treeTimer = null
      if (!this.disposed) this.refreshTree()
    }, TREE_DELAY_MS)
  }

  private refreshTree(): void {
    if (this.doc) this.show(snapshotTree(this.doc), true)
  }

  /** Sends a new snapshot, and logs every model whose owner changed since the last. */
  private show(tree: TreeNode[], flash: boolean): void {
    const owners = ownersOf(tree)
    if (this.owners) {
      const now = Date.now()
      for (const [path, to] of owners) {
        const from = this.owners.get(path)
        if (from !== undefined && from !== to) this.addLog({ t: now, kind: 'owner', path, from, to })
      }
    }
    this.owners = owners
    this.tree = tree
    this.broadcast('tree', { tree, flash })
  }

  /** A room not loaded here: its stored state, through the node's read path. */
  private async poll(): Promise<void> {
    if (this.polling) return
    this.polling = true
    this.lastPoll = performance.now()
    try {
      const { tree, size } = await this.env.rooms.read(this.name, (doc) => ({ tree: snapshotTree(doc), size: Y.encodeStateAsUpdate(doc).byteLength }))
      if (this.disposed || this.doc) return
      // Cluster mode: a room whose lease another node holds is served there.
      const free = (await this.env.storage.unleased?.([this.name])) ?? [this.name]
      if (this.disposed || this.doc) return
      this.setMode(free.includes(this.name) ? 'stored' : 'remote')
      this.size = size
      if (JSON.stringify(tree) !== JSON.stringify(this.tree)) this.show(tree, this.owners !== null)
    } catch {
      // The next poll tries again (a room loading meanwhile is then watched live).
    } finally {
      this.polling = false
    }
  }

  private tick(): void {
    if (this.disposed) return
    this.follow()
    if (!this.doc) {
      this.setMode(this.mode === 'live' ? 'stored' : this.mode)
      if (performance.now() - this.lastPoll >= POLL_MS) void this.poll()
    } else if (this.sizeStale) {
      this.sizeStale = false
      this.size = this.measure(this.doc)
    }
    const point: SeriesPoint = { t: Date.now(), size: this.size, updatesPerSecond: this.updates.roll() }
    for (const c of this.conns.values()) {
      c.updates.roll()
      c.bytes.roll()
    }
    this.series.push(point)
    this.broadcast('stats', point)
    this.broadcast('clients', this.clients())
  }

  /**
   * The live document's encoded size: exact while small; past EXACT_SIZE_BYTES the upper
   * bound the room keeps for its size cap (encoding a large document every second would cost).
   */
  private measure(doc: Y.Doc): number {
    const room = this.env.rooms.get(this.name)
    if (room && room.size.bound > EXACT_SIZE_BYTES) return room.size.bound
    return Y.encodeStateAsUpdate(doc).byteLength
  }

  private clients(): ClientInfo[] {
    const room = this.doc ? this.env.rooms.get(this.name) : undefined
    if (!room) return []
    return [...room.connections].map((conn) => {
      const c = this.conns.get(conn)
      const ids = new Set<number>(conn.awarenessIds)
      if (conn.announcedClientID !== null) ids.add(conn.announcedClientID)
      const node = (conn as Connection & { node?: unknown }).node
      return {
        conn: conn.id,
        principal: conn.principal.id,
        anonymous: conn.principal.anonymous === true,
        clientIDs: [...ids],
        node: typeof node === 'string' ? node : (this.env.node ?? null),
        readOnly: conn.readOnly,
        updatesPerSecond: c?.updates.perSecond ?? 0,
        bytesPerSecond: c?.bytes.perSecond ?? 0,
        rejected: c?.rejected ?? 0,
      }
    })
  }
}
