/**
 * connect(): a room = a Y.Doc, its datastore (typed models over the doc), awareness, and
 * the transport that keeps the doc in sync with the server (§9).
 */
import * as Y from 'yjs'
import { Awareness } from 'y-protocols/awareness'
import type { AnyValue, ErrorNotice, RejectedChange, Response, Welcome } from '../shared/protocol/extension.js'
import { Datastore, ROOT_MAP } from './datastore.js'
import { DATASTORE_ENSURE } from '../shared/protocol/skeleton.js'
import { Emitter } from './emitter.js'
import type { ModelType } from './schema.js'
import { Transport, type ConnectionStatus, type StatusEvent, type TokenSource, type WebSocketConstructor } from './transport.js'
import { ActionClient, type ActionTarget, type Snapshot } from './actions.js'
import { assertOwnYjs, warnYjsCopies } from '../shared/yjs-copies.js'
import type { ActionSet } from '../shared/actions/define.js'
import type { JsonValue } from '../shared/actions/snapshot.js'

export interface ConnectOptions<R extends ModelType = ModelType> {
  /** Server URL, e.g. `ws://localhost:1234`. */
  url: string
  /** Room name (at most 512 characters). */
  room: string
  /**
   * Sent as `?token=` to the server's authenticate hook or JWT check. A function is called
   * before every (re)connect and whenever the server asks for a new token (the current one
   * expired), so the connection stays open across expiries (docs/sdk.md#tokens).
   */
  token?: TokenSource
  /** Extra query parameters. */
  params?: Record<string, string>
  /** Seconds: local changes within one frame go out as one merged update. Default 1/20. */
  datastoreFrameDuration?: number
  /** The root model's type: `room.datastore.root` is typed by it. */
  model?: R
  /** Use an existing document (e.g. one an editor binding already holds). */
  doc?: Y.Doc
  /** Use an existing awareness instance. */
  awareness?: Awareness
  /** WebSocket implementation; default: the global one, or the `ws` package in Node. */
  WebSocket?: WebSocketConstructor
  /** Connect at once (default true). */
  connect?: boolean
  /**
   * Reconnect backoff in ms: after the n-th failed attempt in a row, a random delay between 0
   * and min(maxDelayMs, minDelayMs * 2^n) ("full jitter"). Default 100 .. 2500.
   */
  reconnect?: { minDelayMs?: number; maxDelayMs?: number }
  /** Reconnect when the server sent nothing for this long (default 30000 ms). */
  watchdogMs?: number
  /** Action sets (SPEC §8) of the models this room calls `patch` on. */
  actions?: readonly ActionSet[]
  /**
   * Keep the document in local storage across reloads (browsers: IndexedDB). Pass the
   * persistence class of `y-indexeddb` (an optional package you install), so your bundler
   * includes it: `offline: { persistence: IndexeddbPersistence }`. The database name defaults
   * to `yroom:<room>`. The room connects once the stored state is loaded.
   */
  offline?: OfflineOptions
}

/** `y-indexeddb`'s IndexeddbPersistence, or anything with its shape. */
export type PersistenceConstructor = new (name: string, doc: Y.Doc) => IndexeddbPersistenceLike

export interface OfflineOptions {
  persistence: PersistenceConstructor
  /** Database name; default `yroom:<room>`. */
  name?: string
}

export type RoomEvents = {
  /** Connection state: connecting / connected / disconnected / closed, with close code and reason. */
  status: (e: StatusEvent) => void
  /** The document is in sync with the server (after each (re)connect). */
  synced: () => void
  /** The server rejected one of our changes (it has been or is being rolled back). */
  rejected: (change: RejectedChange) => void
  /** An error notice from the server (e.g. a refused update). */
  error: (e: ErrorNotice) => void
  /** The server's hello reply, once per connection. */
  welcome: (w: Welcome) => void
  /** One merged update (a frame) was sent; `bytes` is its size. */
  frame: (bytes: number) => void
  /** The server refused writes on this connection (read-only principal). */
  'permission-denied': (reason: string) => void
}

export interface IndexeddbPersistenceLike {
  whenSynced: Promise<unknown>
  destroy(): Promise<void> | void
}

export class Room<R extends ModelType = ModelType> {
  readonly name: string
  readonly doc: Y.Doc
  readonly awareness: Awareness
  readonly datastore: Datastore<R>
  /** Actions (SPEC §8): pending overlay, frozen snapshots, resend on reconnect. */
  readonly actions: ActionClient
  private readonly transport: Transport
  private readonly events = new Emitter<RoomEvents>()
  private persistence: IndexeddbPersistenceLike | null = null
  private destroyed = false
  /** Synced, and the root skeleton is in place. */
  private ready = false
  private readonly ownsDoc: boolean
  private readonly ownsAwareness: boolean

  constructor(opts: ConnectOptions<R>) {
    this.name = opts.room
    // Two Yjs copies break instanceof checks silently: say so (src/shared/yjs-copies.ts).
    assertOwnYjs(opts.doc, 'connect({ doc }): the Y.Doc')
    assertOwnYjs(opts.awareness?.doc, 'connect({ awareness }): its Y.Doc')
    warnYjsCopies()
    this.ownsDoc = opts.doc === undefined
    this.ownsAwareness = opts.awareness === undefined
    this.doc = opts.doc ?? new Y.Doc()
    this.awareness = opts.awareness ?? new Awareness(this.doc)
    const frame = opts.datastoreFrameDuration ?? 1 / 20
    if (!(frame >= 0)) throw new TypeError('datastoreFrameDuration must be >= 0 seconds')
    this.transport = new Transport({
      url: opts.url,
      room: opts.room,
      token: opts.token,
      params: opts.params,
      doc: this.doc,
      awareness: this.awareness,
      frameMs: frame * 1000,
      WebSocket: opts.WebSocket,
      minBackoffMs: opts.reconnect?.minDelayMs,
      maxBackoffMs: opts.reconnect?.maxDelayMs,
      watchdogMs: opts.watchdogMs,
    })
    this.datastore = new Datastore<R>(this.doc, { request: (m, p) => this.request(m, p) }, opts.model)
    this.actions = new ActionClient(
      { request: (m, p) => this.transport.request(m, p), onConnected: (fn) => this.events.on('synced', fn) },
      { sets: opts.actions ?? [] },
    )
    const t = this.transport.events
    t.on('status', (e) => {
      if (e.status !== 'connected') {
        this.datastore.rejections.clear()
        this.ready = false
      }
      this.events.emit('status', e)
    })
    t.on('synced', () => void this.onTransportSynced())
    t.on('rejected', (changes) => {
      this.datastore.rejections.add(changes)
      for (const c of changes) this.events.emit('rejected', c)
    })
    t.on('error', (e) => this.events.emit('error', e))
    t.on('welcome', (w) => this.events.emit('welcome', w))
    t.on('frame', (n) => this.events.emit('frame', n))
    t.on('permission-denied', (r) => this.events.emit('permission-denied', r))
    if (opts.offline) void this.startOffline(opts.offline, opts.offline.name ?? `yroom:${opts.room}`, opts.connect !== false)
    else if (opts.connect !== false) this.transport.connect()
  }

  /**
   * Synced with the server: first make sure the root model's skeleton exists, created by
   * the server (see src/shared/protocol/skeleton.ts), then report 'synced'.
   */
  private async onTransportSynced(): Promise<void> {
    const skeleton = this.datastore.skeletonUpdate()
    if (skeleton !== null) {
      try {
        const res = await this.transport.request(DATASTORE_ENSURE, { root: ROOT_MAP, value: skeleton })
        const reason = (res.result as { reason?: unknown } | null)?.reason
        if (!res.ok && reason === 'unknown-method') this.datastore.ensureRootSkeleton()
      } catch {
        return // the connection dropped: the next sync tries again
      }
    }
    if (!this.transport.synced) return
    this.ready = true
    this.events.emit('synced')
  }

  /** Loads the locally stored document, then connects. If storage fails: an 'error' event, and it connects anyway. */
  private async startOffline(offline: OfflineOptions, dbName: string, connectAfter: boolean): Promise<void> {
    await Promise.resolve() // let the caller subscribe to 'error' first
    try {
      this.persistence = new offline.persistence(dbName, this.doc)
      await this.persistence.whenSynced
    } catch (err) {
      this.events.emit('error', { code: 'offline-unavailable', message: `offline persistence unavailable: ${(err as Error).message}` })
    }
    if (connectAfter && !this.destroyed) this.transport.connect()
  }

  /** This client's id: the Y.Doc's clientID, which `ownerID` holds for models it owns. */
  get clientID(): number {
    return this.doc.clientID
  }

  get status(): ConnectionStatus {
    return this.transport.status
  }

  /** True when the document is in sync with the server (and the root model's skeleton exists). */
  get synced(): boolean {
    return this.ready && this.transport.synced
  }

  /** The server's hello reply on the current connection (protocol version, server time...). */
  get welcome(): Welcome | null {
    return this.transport.welcome
  }

  /** Number of document updates (frames) sent so far. */
  get framesSent(): number {
    return this.transport.framesSent
  }

  on<K extends keyof RoomEvents>(name: K, fn: RoomEvents[K]): () => void {
    return this.events.on(name, fn)
  }

  /** Like `on`, for the next event only. */
  once<K extends keyof RoomEvents>(name: K, fn: RoomEvents[K]): () => void {
    return this.events.once(name, fn)
  }

  off<K extends keyof RoomEvents>(name: K, fn: RoomEvents[K]): void {
    this.events.off(name, fn)
  }

  /** Resolves when the document is in sync with the server (at once if it is). */
  whenSynced(): Promise<void> {
    if (this.synced) return Promise.resolve()
    return new Promise((resolve) => this.events.once('synced', () => resolve()))
  }

  /** Sends the pending frame now instead of at the end of the frame. */
  flush(): void {
    this.transport.flush()
  }

  /** Sends an extension request (used by StringKeyDictionary; open for plugins' own methods). */
  request(method: string, params: AnyValue): Promise<Response> {
    return this.transport.request(method, params)
  }

  /**
   * Calls action `name` on a model (SPEC §8). The view changes at once (a local overlay);
   * resolves with the server's resulting data, or rejects with ActionRefused. Pending actions
   * survive disconnects and are re-sent on reconnect; the server applies each at most once.
   */
  patch(model: ActionTarget, name: string, ...args: JsonValue[]): Promise<Snapshot> {
    assertOwnYjs(model, 'patch(model): the Y.Map')
    return this.actions.patch(model, name, ...args)
  }

  /** Calls `callback` now and on every change with a deeply frozen snapshot (confirmed + pending). */
  updated(model: ActionTarget, callback: (snapshot: Snapshot) => void): () => void {
    assertOwnYjs(model, 'updated(model): the Y.Map')
    return this.actions.updated(model, callback)
  }

  /** (Re)connects after `disconnect()` or a terminal close. */
  connect(): void {
    this.transport.connect()
  }

  /** Closes the connection and stops reconnecting. The document stays usable offline. */
  disconnect(): void {
    this.transport.disconnect()
  }

  /** Disconnects and releases everything; the Y.Doc is destroyed too unless it was passed in. */
  destroy(): void {
    if (this.destroyed) return
    this.destroyed = true
    this.transport.destroy()
    this.actions.destroy()
    this.datastore.destroy()
    void this.persistence?.destroy()
    if (this.ownsAwareness) this.awareness.destroy()
    if (this.ownsDoc) this.doc.destroy()
    this.events.clear()
  }
}

/** Connects to a room (§9). The returned room works at once; `whenSynced()` waits for the server's state. */
export function connect<R extends ModelType = ModelType>(options: ConnectOptions<R>): Room<R> {
  return new Room<R>(options)
}
