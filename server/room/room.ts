/**
 * A loaded room: one Y.Doc, its awareness, its connections, the inbox where incoming
 * updates wait to be applied, and the tick that stores and fans out accepted updates.
 * Incoming updates are judged in apply-update.ts; this file owns what happens to them
 * once accepted.
 */
import * as Y from 'yjs'
import * as awarenessProtocol from 'y-protocols/awareness'
import { applyBatch } from './apply-update.js'
import { forgetRemovedStates } from './awareness.js'
import { typeRootMaps } from './transaction-view.js'
import { CloseCode } from '../../src/shared/protocol/close-codes.js'
import { encodeRestored, type RestoredRange } from '../../src/shared/protocol/extension.js'
import { Connection } from '../transport/connection.js'
import { DocumentSize } from './document-size.js'
import { binaryFrame } from '../transport/ws-frame.js'
import { Inbox, type AdmittedUpdate } from './inbox.js'
import { encodeAwarenessChunks, encodeSyncStep1, encodeSyncUpdate } from '../codec/sync-messages.js'
import { failMessage } from './message-errors.js'
import { mergeTick, type PendingUpdate } from '../codec/tick-merge.js'
import { storeServerId } from './server-ids.js'
import type { UpdateLayout } from '../codec/update-layout.js'
import type { Logger } from '../logger.js'
import type { Metrics } from '../metrics.js'
import type { ResolvedOptions } from '../options.js'
import type { RoomHandle, RoomLimits, RoomMetadata, RoomServices, YroomPlugin } from '../plugin.js'
import { LeaseLost, type Storage, type StoredDocument } from '../storage/storage.js'

/** Transaction origin of every server-authored change (compensations, lifetime, backend edits). */
export const SERVER_ORIGIN = Symbol('yroom.server')
/** Transaction origin used while loading stored state. */
export const LOAD_ORIGIN = Symbol('yroom.load')

export interface RoomContext {
  storage: Storage
  options: ResolvedOptions
  plugins: YroomPlugin[]
  metrics: Metrics
  logger: Logger
  /** Called once when the room failed and must be dropped (the registry unloads it without storing its state). */
  onFailure?: (room: Room) => void
}

/** Adaptive tick: how long a room must have been quiet, per connection, to send at once (Room.quiet). */
const QUIET_MS_PER_CONNECTION = 0.5
/**
 * Adaptive tick: a room that is not quiet sends this long, per connection, after its last
 * broadcast (at most a tick): small rooms under bursts wait milliseconds, not the whole
 * tick, while a room's broadcasts stay a small share of a core (a broadcast costs some
 * microseconds per connection). Rooms of tickMs / 2 connections or more keep the tick.
 */
const BUSY_MS_PER_CONNECTION = 2

/**
 * A room compacts in a pause (compactQuietMs) once its log has more than this share of
 * compactAfterEntries entries, and at once past compactAfterEntries, which keeps the bound
 * on a room's log, and so on its load time, where it was (BENCHMARKS.md, scenario 5: a cold
 * load of a 100,000-update room took 1.25 × the in-memory apply of its state with 200
 * entries after the snapshot, 1.45 × with 400, 1.66 × with 800; the target is 1.5 ×).
 */
const COMPACT_IN_PAUSE_FROM = 0.5

/** Server client ids are drawn below this bound (see uniqueServerClientId). */
export const SERVER_CLIENT_ID_BOUND = 1 << 20

/**
 * A fresh client id for server-authored changes that no stored struct uses yet (§3), so no
 * two server processes ever write under one id in a room.
 *
 * Drawn from small numbers on purpose: when two writes are concurrent on the same origin,
 * Yjs orders them by client id and a map keeps the higher one. Low ids make server writes
 * (compensations, backend edits) lose such ties to clients' concurrent writes. Ties decided
 * against a client's accepted write by the offender's id are handled in apply-update.ts
 * (reassertLostWrites).
 */
export function uniqueServerClientId(doc: Y.Doc): number {
  const used = doc.store.clients
  let id = 0
  while (id === 0 || used.has(id)) id = 1 + Math.floor(Math.random() * (SERVER_CLIENT_ID_BOUND - 1))
  return id
}

/**
 * Applies a stored log to a document in one transaction. Applying entry by entry is linear;
 * `Y.mergeUpdates` over a long log is not (seconds for tens of thousands of entries).
 */
export function applyStored(doc: Y.Doc, updates: Uint8Array[], v2?: readonly boolean[]): void {
  if (updates.length === 0) return
  doc.transact(() => {
    // A compacted snapshot may be in Yjs V2 (StoredDocument.v2); log entries are V1.
    for (let i = 0; i < updates.length; i++) {
      if (v2?.[i]) Y.applyUpdateV2(doc, updates[i], LOAD_ORIGIN)
      else Y.applyUpdate(doc, updates[i], LOAD_ORIGIN)
    }
  }, LOAD_ORIGIN)
}

/** What one tick (or, with tickMs 0, one incoming message) sends. */
interface Batch {
  updates: PendingUpdate[]
  /** Connections whose updates are in `updates` (null = the server). */
  contributors: Set<Connection | null>
  /** Authors that must receive the batch even though they wrote it (rollbacks). */
  echo: Set<Connection>
  awarenessIds: number[]
  /** Content re-created while applying the updates, told to SDK clients after them. */
  restored: RestoredRange[]
  /** Cluster mode: the relayed input this batch holds everything up to (inputCursor). */
  mark: string | null
}

/**
 * Cluster mode (server/cluster/authority.ts): how far the room has read its relayed input.
 * A batch remembers the position when it is taken; once the batch is stored, everything
 * before it is, and a node taking the room over replays only what follows.
 */
export interface InputCursor {
  current(): string | null
  committed(position: string): void
}

/**
 * One loaded room: its document, connections and the pipeline that applies, judges, stores
 * and fans out updates. Plugins see it as a RoomHandle (plugin.ts).
 */
export class Room implements RoomHandle {
  readonly doc: Y.Doc
  readonly awareness: awarenessProtocol.Awareness
  readonly connections = new Set<Connection>()
  /** Client ids this process authors server changes under in this room. */
  readonly serverClientIds = new Set<number>()
  /** The current server id is in the stored list (server-ids.ts). */
  private serverIdStored = false
  /** Free-form per-plugin state, keyed by plugin name. */
  readonly pluginState = new Map<string, unknown>()
  readonly services: RoomServices = {}
  readonly metadata: RoomMetadata
  /** Items the server created to compensate rejections (they yield to concurrent writes). */
  readonly compensationItems = new WeakSet<Y.Item>()
  /**
   * Some rollback re-created deleted content since the room loaded: only then can an
   * update's deletions refer to originals that live on as copies (transaction-view.ts).
   */
  hasRestored = false
  private restored: RestoredRange[] = []
  /** Some plugin judges updates (has an onUpdate hook). */
  readonly judging: boolean
  /** Admitted updates waiting to be applied in one batch (see inbox.ts). */
  private readonly inbox: Inbox
  /** Sequence number of the last stored update. */
  seq: number
  /** The document's size, for maxDocumentBytes (document-size.ts). */
  readonly size: DocumentSize
  private logEntries: number
  /** The seq the stored log was last compact at (one entry): compacting again would write the same state. */
  private compactSeq: number
  private pending: PendingUpdate[] = []
  /** Connections whose updates are in `pending` (null = the server). */
  private contributors = new Set<Connection | null>()
  /** Connections that must receive this tick's message even though they authored it (rollbacks). */
  private echo = new Set<Connection>()
  private awarenessChanged = new Set<number>()
  private timer: NodeJS.Timeout | null = null
  /** Adaptive tick: a flush at the end of this event-loop turn (the room was quiet). */
  private immediate: NodeJS.Immediate | null = null
  /** performance.now() when the last batch was taken. */
  private lastFlushAt = -Infinity
  /** performance.now() when the last update was broadcast (compaction waits for a pause). */
  private lastUpdateAt = -Infinity
  /** Waiting for a pause to compact (compactWhenQuiet). */
  private compactTimer: NodeJS.Timeout | null = null
  private chain: Promise<void> = Promise.resolve()
  /** Storage appends in flight. */
  private writing = 0
  private flushQueued = false
  private microtaskQueued = false
  closed = false
  /** Cluster mode: see RoomHandle.handover. */
  handover = false
  /** Cluster mode: the position in the room's relayed input (see InputCursor). */
  inputCursor: InputCursor | null = null
  /** Set by fail(): the document is dropped, never stored or served again. */
  failed = false

  constructor(
    readonly name: string,
    readonly ctx: RoomContext,
    stored: StoredDocument,
  ) {
    this.metadata = { get: (key) => ctx.storage.getMeta(name, key), set: (key, value) => ctx.storage.setMeta(name, key, value) }
    this.judging = ctx.plugins.some((p) => p.onUpdate)
    const { applyDelayMs, tickMs } = ctx.options
    this.inbox = new Inbox(
      (batch) => this.applyBatch(batch),
      Math.min(applyDelayMs, tickMs),
      () => this.scheduleFlush(),
    )
    this.doc = new Y.Doc({ gc: true })
    applyStored(this.doc, stored.updates, stored.v2)
    typeRootMaps(this.doc)
    this.doc.clientID = uniqueServerClientId(this.doc)
    this.serverClientIds.add(this.doc.clientID)
    this.seq = stored.seq
    this.logEntries = stored.updates.length
    this.compactSeq = stored.updates.length <= 1 ? stored.seq : -1
    const v1Bytes = stored.v2?.some(Boolean) ? null : stored.updates.reduce((n, u) => n + u.byteLength, 0)
    this.size = new DocumentSize(this.doc, ctx.options.maxDocumentBytes, v1Bytes)
    this.awareness = new awarenessProtocol.Awareness(this.doc)
    this.awareness.setLocalState(null)
    this.awareness.on('update', this.onAwarenessUpdate)
  }

  get plugins(): YroomPlugin[] {
    return this.ctx.plugins
  }

  get limits(): RoomLimits {
    return this.ctx.options
  }

  get logger(): Logger {
    return this.ctx.logger
  }

  private onAwarenessUpdate = (
    { added, updated, removed }: { added: number[]; updated: number[]; removed: number[] },
    origin: unknown,
  ): void => {
    if (origin instanceof Connection) {
      // One message may add, update and remove the same id (y-protocols then lists it in
      // all three): what counts is whether a state remains, not which list names it.
      for (const list of [added, updated, removed]) {
        for (const id of list) {
          if (this.awareness.states.has(id)) origin.awarenessIds.add(id)
          else origin.awarenessIds.delete(id)
        }
      }
    }
    for (const id of added) this.awarenessChanged.add(id)
    for (const id of updated) this.awarenessChanged.add(id)
    for (const id of removed) this.awarenessChanged.add(id)
    this.scheduleFlush()
  }

  /** Adds a connection and starts the sync handshake (server state vector + awareness). */
  join(conn: Connection): void {
    this.connections.add(conn)
    conn.send(encodeSyncStep1(this.doc))
    const states = this.awareness.getStates()
    if (states.size > 0) for (const m of encodeAwarenessChunks(this.awareness, [...states.keys()])) conn.send(m)
  }

  /** Removes a connection and the awareness states it published. */
  leave(conn: Connection): void {
    // Its updates still waiting are applied while it is a member (identity, ownership).
    this.applyInbox()
    if (!this.connections.delete(conn)) return
    if (conn.awarenessIds.size > 0) {
      awarenessProtocol.removeAwarenessStates(this.awareness, [...conn.awarenessIds], conn)
      forgetRemovedStates(this.awareness)
    }
  }

  /**
   * Takes an admitted update. It is applied by the next tick (or earlier, when something
   * must see it) together with the others waiting, in one transaction; within
   * `applyDelayMs` when it might be rejected, so that its rollback comes quickly: it touches
   * others' content, or its connection is under watch (inbox.ts); at once when there is no
   * tick.
   */
  submit(update: AdmittedUpdate): void {
    if (this.ctx.options.tickMs === 0) this.applyBatch([update])
    // In a quiet room everything is applied at the end of this turn: nothing is urgent.
    else this.inbox.push(update, !this.quiet() && (update.layout.touchesOthers || update.conn.underWatch()))
  }

  /**
   * Adaptive tick: whether a change now goes out at the end of this event-loop turn rather
   * than at the tick. Batching pays when changes come faster than the room can send each
   * on its own; in a quiet room (an editor typing, a few players) it only adds latency. A
   * room is quiet when its last batch went out at least this long ago: half a millisecond
   * per connection (the cost of one broadcast grows with them), at most one tick.
   */
  private quiet(): boolean {
    if (this.immediate !== null) return true
    if (!this.ctx.options.adaptiveTick || this.timer !== null) return false
    const gap = Math.min(this.ctx.options.tickMs, this.connections.size * QUIET_MS_PER_CONNECTION)
    return performance.now() - this.lastFlushAt >= gap
  }

  private onImmediate = (): void => {
    this.immediate = null
    void this.flush()
  }

  private applyBatch(batch: AdmittedUpdate[]): void {
    if (this.failed) return
    try {
      applyBatch(this, batch, (conn, err) => failMessage(this, conn, err))
    } catch (err) {
      // Each update's own failure is handled in applyBatch; this is the transaction itself
      // failing (e.g. in Yjs's cleanup), which leaves the document in a state nobody judged.
      this.fail(err)
    }
  }

  /**
   * The safety net: the document can no longer be trusted. Every connection is closed
   * (1011; clients reconnect), and the registry drops the room without storing its
   * document, so the next join loads the last stored state. Nothing accepted is lost:
   * what was accepted before was stored or is still pending and is stored first.
   */
  fail(err: unknown): void {
    if (this.failed) return
    this.failed = true
    this.ctx.metrics.roomFailures.inc()
    if (err instanceof LeaseLost) {
      // Another server writes the room now (SPEC §11): its clients reconnect and find it.
      this.logger.warn({ room: this.name }, 'room lease lost; its connections are closed')
      for (const conn of this.connections) conn.close(CloseCode.TRY_AGAIN_LATER, 'room moved to another server; reconnect')
    } else {
      this.logger.error({ err, room: this.name }, 'room failed; its connections are closed and it reloads from storage')
      for (const conn of this.connections) conn.close(CloseCode.INTERNAL_ERROR, 'room reloads after an internal error')
    }
    this.ctx.onFailure?.(this)
  }

  /**
   * A storage write failed. A lost lease stops the room: nothing more is written or sent
   * (returns true). Any other failure is logged, and what was accepted still goes out: the
   * document holds it and stores it with the next compaction.
   */
  private appendFailed(err: unknown): boolean {
    if (err instanceof LeaseLost) {
      this.fail(err)
      return true
    }
    this.logger.error({ err, room: this.name }, 'storage append failed')
    return false
  }

  /** Applies the updates waiting in the inbox now (before anything that must see them). */
  applyInbox(): void {
    if (!this.failed) this.inbox.apply()
  }

  /**
   * Queues an accepted update for storage and fan-out at the next tick.
   * `authors`: whose changes it carries (null = the server). `echo`: authors that must
   * receive it too, although they wrote it (it carries a server rewrite of their change).
   */
  enqueue(update: Uint8Array, authors: readonly (Connection | null)[], echo: readonly Connection[] = [], layout: UpdateLayout | null = null): void {
    this.pending.push({ update, layout })
    for (const a of authors) this.contributors.add(a)
    for (const c of echo) this.echo.add(c)
    this.scheduleFlush()
  }

  /** Content the server re-created; SDK clients hear of it after the update (undo, cursors). */
  noteRestored(ranges: readonly RestoredRange[]): void {
    if (ranges.length === 0) return
    this.hasRestored = true
    for (const r of ranges) this.restored.push(r)
  }

  /** Records the server's structs from clock `from` on as compensation items. */
  markCompensation(from: number): void {
    const structs = this.doc.store.clients.get(this.doc.clientID)
    if (!structs || Y.getState(this.doc.store, this.doc.clientID) <= from) return
    for (let i = Y.findIndexSS(structs, from); i < structs.length; i++) {
      const s = structs[i]
      if (s instanceof Y.Item) this.compensationItems.add(s)
    }
  }

  /**
   * Sends an accepted update (a rollback) to its offenders now instead of at the next tick.
   * Stored first, like everything a client receives; the others get it with the tick.
   */
  sendNow(conns: readonly Connection[], update: Uint8Array): void {
    this.writing++
    let stopped = false
    this.ctx.storage
      .append(this.name, [update])
      .then(
        (seq) => {
          this.seq = Math.max(this.seq, seq)
          this.logEntries++
        },
        (err: unknown) => {
          stopped = this.appendFailed(err)
        },
      )
      .finally(() => {
        this.writing--
        if (stopped) return
        const frame = binaryFrame(encodeSyncUpdate(update))
        for (const conn of conns) conn.sendFrame(frame)
      })
      .catch((err: unknown) => this.logger.error({ err, room: this.name }, 'sending a rollback failed'))
  }

  /**
   * Runs `fn` as the server (SPEC §3: ownerID 0 may write anything) and broadcasts the
   * result like any accepted update. Not for use inside an onUpdate hook (use ctx.serverEdit).
   */
  transactAsServer<T>(fn: (doc: Y.Doc) => T): T {
    if (this.failed) throw new Error(`room ${this.name} failed and is being reloaded`)
    if (this.doc._transaction !== null) throw new Error('transactAsServer called inside a transaction; use ctx.serverEdit')
    this.applyInbox()
    const updates: Uint8Array[] = []
    const capture = (u: Uint8Array) => updates.push(u)
    this.doc.on('update', capture)
    let result: T
    try {
      result = this.doc.transact(() => fn(this.doc), SERVER_ORIGIN)
    } finally {
      this.doc.off('update', capture)
    }
    for (const u of updates) this.enqueue(u, [null])
    return result
  }

  private scheduleFlush(): void {
    if (this.closed) return
    if (this.ctx.options.tickMs === 0) {
      // Changes from an incoming message are sent when dispatch calls flushSoon() at its end.
      // Anything else (awareness removal on close, backend and plugin edits) must not wait
      // for the next incoming message: flush it once the current synchronous work is done.
      if (!this.microtaskQueued) {
        this.microtaskQueued = true
        queueMicrotask(() => {
          this.microtaskQueued = false
          this.flushSoon()
        })
      }
      return
    }
    if (this.timer !== null || this.immediate !== null) return
    if (this.quiet()) {
      this.immediate = setImmediate(this.onImmediate)
      return
    }
    this.timer = setTimeout(() => {
      this.timer = null
      void this.flush()
    }, this.nextFlushDelay())
  }

  /** How long a change waits in a room that is not quiet: the tick, or less (adaptive tick). */
  private nextFlushDelay(): number {
    const { tickMs, adaptiveTick } = this.ctx.options
    if (!adaptiveTick) return tickMs
    const gap = Math.min(tickMs, this.connections.size * BUSY_MS_PER_CONNECTION)
    return Math.max(0, this.lastFlushAt + gap - performance.now())
  }

  /**
   * With tickMs 0, dispatch calls this after each incoming message; otherwise it is the tick.
   * The message's changes are taken at once: ws may deliver several messages in one go, and
   * each must still get its own broadcast (tickMs 0 means no batching).
   */
  flushSoon(): void {
    if (this.ctx.options.tickMs !== 0) return
    const batch = this.takeBatch()
    if (batch) this.chain = this.chain.then(() => this.send(batch)).catch(this.onFlushError)
  }

  /**
   * Null when every accepted update is stored; else a promise that resolves once they are.
   * A late joiner's sync answer waits for it, so no client sees state a crash could lose.
   */
  whenStored(): Promise<void> | null {
    this.applyInbox()
    if (this.pending.length > 0) return this.flush()
    return this.writing > 0 ? this.chain : null
  }

  /** Stores and broadcasts everything pending. Serialized: one flush at a time per room. */
  flush(): Promise<void> {
    if (this.flushQueued) return this.chain
    this.flushQueued = true
    this.chain = this.chain
      .then(() => {
        this.flushQueued = false
        const batch = this.takeBatch()
        return batch ? this.send(batch) : undefined
      })
      // A failed flush must not wedge the chain: every later flush hangs off it.
      .catch(this.onFlushError)
    return this.chain
  }

  private onFlushError = (err: unknown): void => {
    this.flushQueued = false
    this.logger.error({ err, room: this.name }, 'flush failed')
  }

  /** Takes everything pending (updates and awareness changes), or null when there is nothing. */
  private takeBatch(): Batch | null {
    this.applyInbox()
    if (this.pending.length === 0 && this.awarenessChanged.size === 0) return null
    this.lastFlushAt = performance.now()
    const batch: Batch = {
      updates: this.pending,
      contributors: this.contributors,
      echo: this.echo,
      awarenessIds: [...this.awarenessChanged],
      restored: this.restored,
      mark: this.inputCursor?.current() ?? null,
    }
    this.pending = []
    this.restored = []
    this.contributors = new Set()
    this.echo = new Set()
    this.awarenessChanged.clear()
    return batch
  }

  private async send(batch: Batch): Promise<void> {
    if (batch.updates.length > 0) await this.sendUpdates(batch)
    if (batch.restored.length > 0) {
      const message = encodeRestored(batch.restored)
      for (const conn of this.connections) conn.sendExtension(message)
    }
    if (batch.awarenessIds.length > 0) {
      // Sent to every connection, the author included: stock y-websocket clients count any
      // incoming message as a sign of life, and their own awareness renewals provide it.
      for (const message of encodeAwarenessChunks(this.awareness, batch.awarenessIds)) {
        const frame = binaryFrame(message)
        for (const conn of this.connections) conn.sendFrame(frame)
      }
    }
    if (batch.mark !== null && !this.failed) this.inputCursor?.committed(batch.mark)
  }

  private async sendUpdates({ updates, contributors, echo }: Batch): Promise<void> {
    // One merged update per tick: it is what gets broadcast, and one log entry per tick
    // keeps storage writes and compactions proportional to ticks, not to writers.
    const merged = mergeTick(updates)
    const started = performance.now()
    this.writing++
    try {
      this.seq = await this.ctx.storage.append(this.name, [merged])
      this.logEntries += 1
      if (!this.serverIdStored && Y.getState(this.doc.store, this.doc.clientID) > 0) {
        // The first stored struct of the server: its id is the server's for good.
        this.serverIdStored = true
        await storeServerId(this.ctx.storage, this.name, this.doc.clientID)
      }
    } catch (err) {
      if (this.appendFailed(err)) return
    } finally {
      this.writing--
    }
    this.ctx.metrics.storageWriteSeconds.observe((performance.now() - started) / 1000)
    for (const p of this.plugins) p.onStored?.(this, this.seq)
    const frame = binaryFrame(encodeSyncUpdate(merged))
    // One message per connection per tick. A lone author does not get its own update back;
    // when several wrote, everyone gets the one merged message (Yjs ignores known structs),
    // which keeps fan-out O(connections) instead of one merge per connection.
    const lone = contributors.size === 1 ? contributors.values().next().value : undefined
    for (const conn of this.connections) {
      if (conn === lone && !echo.has(conn)) continue
      conn.sendFrame(frame)
    }
    this.ctx.metrics.updatesOut.inc()
    this.lastUpdateAt = performance.now()
    const limit = this.ctx.options.compactAfterEntries
    if (this.logEntries > limit) await this.compactNow()
    // Compacting encodes the whole document, and the process serves no other room while it
    // does: a room being edited does it in a pause if it can.
    else if (this.logEntries > limit * COMPACT_IN_PAUSE_FROM && this.ctx.options.compactQuietMs > 0) this.compactWhenQuiet()
  }

  /** Compacts once no update has been broadcast for compactQuietMs (one timer, pushed back while updates come). */
  private compactWhenQuiet(): void {
    if (this.compactTimer) return
    const quiet = this.ctx.options.compactQuietMs
    const check = (): void => {
      const idle = performance.now() - this.lastUpdateAt
      if (idle < quiet) {
        this.compactTimer = setTimeout(check, quiet - idle).unref()
        return
      }
      this.compactTimer = null
      // Not when a compaction past the limit came first.
      if (!this.closed && this.logEntries > this.ctx.options.compactAfterEntries * COMPACT_IN_PAUSE_FROM) void this.compact()
    }
    this.compactTimer = setTimeout(check, quiet).unref()
  }

  /** Replaces the stored log by one update with the current state (runs on the flush chain). */
  compact(): Promise<void> {
    this.chain = this.chain.then(() => this.compactNow()).catch(this.onFlushError)
    return this.chain
  }

  private async compactNow(): Promise<void> {
    // A failed room's document is not the stored state plus judged updates: never store it.
    if (this.seq === 0 || this.failed) return
    // Nothing appended since the log was last one entry: an unchanged room writes nothing.
    if (this.seq === this.compactSeq) return
    // Stores that record the encoding keep the snapshot in Yjs V2 (half the bytes of V1 for
    // text). A V1 snapshot measures the document for the size cap on the way; a V2 one does
    // not, and the cap's bound (document-size.ts) stays an upper bound without it.
    const v2 = this.ctx.storage.snapshotEncoding === 'v2'
    const state = v2 ? Y.encodeStateAsUpdateV2(this.doc) : Y.encodeStateAsUpdate(this.doc)
    if (!v2) this.size.measuredAs(state.byteLength)
    try {
      await this.ctx.storage.compact(this.name, state, this.seq, v2 ? 'v2' : 'v1')
      this.logEntries = 1
      this.compactSeq = this.seq
    } catch (err) {
      this.logger.error({ err, room: this.name }, 'compaction failed')
    }
  }

  /** Flushes, compacts and frees the document. The caller removed it from the registry. */
  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    if (this.compactTimer) clearTimeout(this.compactTimer)
    this.compactTimer = null
    if (this.immediate) clearImmediate(this.immediate)
    this.immediate = null
    this.applyInbox()
    await this.flush()
    await this.compact()
    this.closed = true
    this.awareness.off('update', this.onAwarenessUpdate)
    this.awareness.destroy()
    this.doc.destroy()
  }
}
