/**
 * The room registry: loads rooms on demand, unloads them when idle, and gives backend code
 * access to any room's document, loaded or not (SPEC §6, the Skilift idea: no session locks).
 *
 * Per room, load / unload / direct storage edits run one after another on a small queue, so
 * an unloaded room's direct append can never slip between a load and that room's compaction.
 */
import * as Y from 'yjs'
import type { Connection } from '../transport/connection.js'
import { applyStored, Room, SERVER_ORIGIN, uniqueServerClientId, type RoomContext } from './room.js'
import { loadServerIds, storeServerId } from './server-ids.js'
import { LeaseLost, type StoredDocument } from '../storage/storage.js'

export class Rooms {
  private loaded = new Map<string, Room>()
  private loading = new Map<string, Promise<Room>>()
  private queues = new Map<string, Promise<unknown>>()
  private idleTimers = new Map<string, NodeJS.Timeout>()
  /** Rooms whose unload (onUnload hooks, final flush) is under way. */
  private unloading = new Set<string>()
  /**
   * Whether a load waits (about one lease) for another server's lease on the room to
   * expire. Cluster mode does not: a room served elsewhere is relayed to its authority.
   */
  waitForLease = true
  /** Called when a loaded room leaves the registry (unloaded or failed). */
  onRoomGone: ((room: Room) => void) | null = null
  /**
   * Cluster mode: whether a room about to load has clients connected through other nodes
   * (RoomHandle.handover), and the step that makes this node the room's authority.
   */
  cluster: { clientsElsewhere(name: string): Promise<boolean>; hold(room: Room): Promise<void> } | null = null

  constructor(private ctx: RoomContext) {
    this.ctx = { ...ctx, onFailure: (room) => void this.discard(room) }
    // Shared storage: a room whose lease could not be renewed stops at once (SPEC §11).
    ctx.storage.onLeaseLost?.((name) => {
      ctx.metrics.leaseLosses.inc()
      this.loaded.get(name)?.fail(new LeaseLost(name))
    })
  }

  /** Runs `op` after every earlier queued operation of this room. */
  private queue<T>(name: string, op: () => Promise<T>): Promise<T> {
    const prev = this.queues.get(name) ?? Promise.resolve()
    const next = prev.then(op, op)
    const tail = next.catch(() => undefined)
    this.queues.set(name, tail)
    void tail.then(() => {
      if (this.queues.get(name) === tail) this.queues.delete(name)
    })
    return next
  }

  /** Loaded rooms, by name. */
  get all(): ReadonlyMap<string, Room> {
    return this.loaded
  }

  /** The loaded room, or undefined. */
  get(name: string): Room | undefined {
    return this.loaded.get(name)
  }

  /** Returns the room, loading it (and running plugins' onLoad) first if needed. */
  open(name: string): Promise<Room> {
    const room = this.loaded.get(name)
    // A room whose unload has begun is not handed out: the caller waits for the unload
    // and gets the room loaded again, instead of joining a document about to be freed.
    if (room && !this.unloading.has(name)) return Promise.resolve(room)
    let p = this.loading.get(name)
    if (!p) {
      p = this.queue(name, () => this.load(name)).finally(() => this.loading.delete(name))
      this.loading.set(name, p)
    }
    return p
  }

  private async load(name: string): Promise<Room> {
    const existing = this.loaded.get(name)
    if (existing) return existing
    // Shared storage: this server becomes the room's only writer first (SPEC §11).
    await this.ctx.storage.lease?.(name, { wait: this.waitForLease })
    let room: Room
    let stored: StoredDocument
    try {
      stored = await this.ctx.storage.load(name)
      room = new Room(name, this.ctx, stored)
      // Earlier server ids stay the server's (server-ids.ts); the authority binds them on load.
      for (const id of await loadServerIds(this.ctx.storage, name)) room.serverClientIds.add(id)
      if (this.cluster) room.handover = await this.cluster.clientsElsewhere(name)
      for (const p of this.ctx.plugins) await p.onLoad?.(room)
      await this.cluster?.hold(room)
    } catch (err) {
      // Not loaded: the lease must not stay held (and renewed) for a room nobody serves.
      await this.release(name)
      throw err
    }
    this.loaded.set(name, room)
    this.ctx.metrics.roomsLoaded.set(this.loaded.size)
    // A long log (e.g. many backend appends while unloaded) is compacted now, not at unload.
    if (stored.updates.length > this.ctx.options.compactAfterEntries) void room.compact() // logs its own failure
    this.ctx.logger.debug({ room: name, seq: stored.seq }, 'room loaded')
    // A room loaded without a client (backend edit) unloads after the idle time as well.
    if (room.connections.size === 0) this.scheduleUnload(room)
    return room
  }

  /** Adds a connection to its room (loading it if needed). */
  async attach(conn: Connection): Promise<Room> {
    let room = await this.open(conn.room)
    // The unload may have begun while we waited for the room: wait for it and reload.
    while (this.unloading.has(room.name) || this.loaded.get(room.name) !== room) room = await this.open(conn.room)
    this.cancelUnload(room.name)
    room.join(conn)
    return room
  }

  /**
   * Adds a connection to a loaded room without loading it (cluster mode: clients served
   * through other nodes). `quiet`: no sync handshake, the client is synced already (it
   * was served by the room's former authority).
   */
  adopt(room: Room, conn: Connection, quiet: boolean): void {
    this.cancelUnload(room.name)
    if (quiet) room.connections.add(conn)
    else room.join(conn)
  }

  /** Removes a connection; the room unloads after the idle time once empty. */
  async detach(room: Room, conn: Connection): Promise<void> {
    try {
      room.leave(conn)
    } catch (err) {
      room.fail(err)
    }
    for (const p of this.ctx.plugins) {
      try {
        await p.onDisconnect?.({ room, connection: conn })
      } catch (err) {
        this.ctx.logger.error({ err, plugin: p.name, room: room.name }, 'onDisconnect failed')
      }
    }
    if (room.connections.size === 0) this.scheduleUnload(room)
  }

  private cancelUnload(name: string): void {
    const t = this.idleTimers.get(name)
    if (t) clearTimeout(t)
    this.idleTimers.delete(name)
  }

  private scheduleUnload(room: Room): void {
    this.cancelUnload(room.name)
    const t = setTimeout(() => {
      this.idleTimers.delete(room.name)
      if (room.connections.size === 0) {
        this.unload(room.name).catch((err: unknown) => this.ctx.logger.error({ err, room: room.name }, 'unload failed'))
      }
    }, this.ctx.options.idleShutdownMs)
    t.unref()
    this.idleTimers.set(room.name, t)
  }

  /** Runs onUnload hooks, stores, compacts and frees a room. No-op if it is not loaded. */
  unload(name: string): Promise<void> {
    this.cancelUnload(name)
    return this.queue(name, async () => {
      const room = this.loaded.get(name)
      if (!room) return
      if (room.connections.size > 0) return // someone joined meanwhile
      this.unloading.add(name)
      try {
        for (const p of this.ctx.plugins) {
          try {
            await p.onUnload?.(room)
          } catch (err) {
            this.ctx.logger.error({ err, plugin: p.name, room: name }, 'onUnload failed')
          }
        }
        this.loaded.delete(name)
        this.ctx.metrics.roomsLoaded.set(this.loaded.size)
        this.onRoomGone?.(room)
        await room.close()
        await this.release(name)
      } finally {
        this.unloading.delete(name)
      }
      this.ctx.logger.debug({ room: name }, 'room unloaded')
    })
  }

  /**
   * Drops a failed room (Room.fail) at once: the next join loads it from storage. What it
   * accepted before failing is stored first, on its queue, so that load sees it.
   */
  private discard(room: Room): Promise<void> {
    if (this.loaded.get(room.name) !== room) return Promise.resolve()
    this.cancelUnload(room.name)
    this.loaded.delete(room.name)
    this.ctx.metrics.roomsLoaded.set(this.loaded.size)
    this.onRoomGone?.(room)
    return this.queue(room.name, async () => {
      await room.close()
      await this.release(room.name)
    }).catch((err: unknown) => {
      this.ctx.logger.error({ err, room: room.name }, 'closing a failed room failed')
    })
  }

  /** Unloads every room (server shutdown). Connections must be closed first. */
  async unloadAll(): Promise<void> {
    await Promise.all([...this.loaded.keys()].map((n) => this.unload(n)))
  }

  /**
   * Edits a room's document as the server, whether or not it is loaded. A loaded room
   * broadcasts the change at once; an unloaded room gets it appended to storage and sees
   * it on its next load. Resolves once the change is stored.
   */
  async edit<T>(name: string, fn: (doc: Y.Doc) => T): Promise<T> {
    const room = this.loaded.get(name)
    if (room) {
      const result = room.transactAsServer(fn)
      await room.flush()
      return result
    }
    return this.queue(name, async () => {
      const live = this.loaded.get(name)
      if (live) {
        const result = live.transactAsServer(fn)
        await live.flush()
        return result
      }
      await this.ctx.storage.lease?.(name)
      try {
        return await this.editStored(name, fn)
      } finally {
        await this.release(name)
      }
    })
  }

  /** Edits an unloaded room's stored document (its lease held, on shared storage). */
  private async editStored<T>(name: string, fn: (doc: Y.Doc) => T): Promise<T> {
    const stored = await this.ctx.storage.load(name)
    const doc = new Y.Doc({ gc: true })
    applyStored(doc, stored.updates, stored.v2)
    // A fresh server id no stored struct uses (SPEC §3).
    doc.clientID = uniqueServerClientId(doc)
    const updates: Uint8Array[] = []
    doc.on('update', (u: Uint8Array) => updates.push(u))
    const result = doc.transact(() => fn(doc), SERVER_ORIGIN)
    if (updates.length > 0) {
      const seq = await this.ctx.storage.append(name, updates)
      await storeServerId(this.ctx.storage, name, doc.clientID)
      // The doc holds every entry up to seq: compact here once the log grows long.
      if (stored.updates.length + updates.length > this.ctx.options.compactAfterEntries) {
        const v2 = this.ctx.storage.snapshotEncoding === 'v2'
        await this.ctx.storage.compact(name, v2 ? Y.encodeStateAsUpdateV2(doc) : Y.encodeStateAsUpdate(doc), seq, v2 ? 'v2' : 'v1')
      }
    }
    doc.destroy()
    return result
  }

  /** Gives the room's lease up (shared storage); a failure only delays the next taker. */
  private async release(name: string): Promise<void> {
    try {
      await this.ctx.storage.release?.(name)
    } catch (err) {
      this.ctx.logger.warn({ err, room: name }, 'releasing the room lease failed; it expires on its own')
    }
  }

  /** Reads a room's current document (a copy when not loaded). */
  async read<T>(name: string, fn: (doc: Y.Doc) => T): Promise<T> {
    const room = this.loaded.get(name)
    if (room) {
      room.applyInbox()
      return fn(room.doc)
    }
    // On the room's queue: an unload still storing its last changes finishes first.
    const stored = await this.queue(name, () => this.ctx.storage.load(name))
    const doc = new Y.Doc()
    applyStored(doc, stored.updates, stored.v2)
    try {
      return fn(doc)
    } finally {
      doc.destroy()
    }
  }
}
