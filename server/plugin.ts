/**
 * The server's plugin interface. Everything optional is a plugin (authority, lifetime,
 * actions, application rules); the core only loads rooms, applies updates, fans them out
 * and stores them. Hooks run in registration order.
 *
 * The update hooks are synchronous on purpose: they run on the hot path, inside the Yjs
 * transaction that applies the update, so a plugin sees the exact change and can reject
 * parts of it before anyone else does.
 */
import type * as Y from 'yjs'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AnyValue, RejectedChange } from '../src/shared/protocol/extension.js'
import type { Change, TransactionView } from './room/transaction-view.js'
import type { Connection } from './transport/connection.js'
import type { Principal } from './transport/principal.js'
import type { Logger } from './logger.js'
import type { Rooms } from './room/rooms.js'
import type { Storage } from './storage/storage.js'

export { SERVER_PRINCIPAL, type Principal } from './transport/principal.js'

/** Thrown by a hook to refuse something with a reason the peer is told. */
export class Refusal extends Error {
  constructor(
    /** Machine-readable code, e.g. 'identity-mismatch'. */
    readonly code: string,
    message: string,
  ) {
    super(message)
    this.name = 'Refusal'
  }
}

/**
 * What a plugin sees of a room. The engine (room/room.ts) implements it; its pipeline
 * (inbox, fan-out, compensation bookkeeping) stays private to the room.
 */
export interface RoomHandle {
  readonly name: string
  /** The room's document. Write to it only through `transactAsServer` (or a hook's `serverEdit`). */
  readonly doc: Y.Doc
  readonly logger: Logger
  /** The limits the room enforces (the server's options). */
  readonly limits: RoomLimits
  /** The room's open connections. */
  readonly connections: ReadonlySet<Connection>
  /** Set once the room unloaded: timers a plugin started should do nothing after it. */
  readonly closed: boolean
  /**
   * Cluster mode: the room's clients stay connected through other nodes across this load
   * or unload (a takeover, or this node shutting down). Their session goes on, so what
   * belongs to the end of a session (lifetime deletions) must not happen now.
   */
  readonly handover: boolean
  /** Client ids the server writes under in this room (this run's and stored ones). */
  readonly serverClientIds: ReadonlySet<number>
  /** The room's metadata in storage (SPEC §11): bytes under a key, beside its updates. */
  readonly metadata: RoomMetadata
  /** Services plugins provide to each other (see RoomServices). */
  readonly services: RoomServices
  /** Free-form per-plugin state, keyed by plugin name. */
  readonly pluginState: Map<string, unknown>
  /** Runs `fn` as one server-authored change, stored and broadcast like a client's. */
  transactAsServer<T>(fn: (doc: Y.Doc) => T): T
  /** Resolves once everything applied so far is stored and sent. */
  flush(): Promise<void>
}

export interface RoomLimits {
  /** How deep shared types may nest (SPEC §12): decode request updates with it. */
  readonly maxNestingDepth: number
  /** The document size cap in bytes (SPEC §12). */
  readonly maxDocumentBytes: number
}

export interface RoomMetadata {
  get(key: string): Promise<Uint8Array | undefined>
  set(key: string, value: Uint8Array): Promise<void>
}

/**
 * Which connection writes under which client id (SPEC §3). Provided by the authority
 * plugin (plugins/authority); plugins that need it read `room.services.identity`.
 */
export interface IdentityService {
  /** True when `clientID` is bound to `conn`. */
  isOwnConnection(clientID: number, conn: Connection): boolean
  /** True while an open connection holds `clientID`. */
  isLive(clientID: number): boolean
  /** Whether the principal `clientID` is bound to is anonymous; undefined when unbound. */
  isAnonymous(clientID: number): boolean | undefined
  /** The ids a closed connection held that no open connection holds now. */
  idsLeftBy(connId: number): number[]
  /**
   * Cluster takeover: binds to `conn` the stored ids of its principal that no open
   * connection holds (the client was served by the room's former authority, which knew).
   */
  adoptStoredIds(conn: Connection): void
}

/**
 * Events other systems may want to hear of (the webhooks plugin provides it): a plugin
 * reports what it did, e.g. the actions plugin an action applied or refused.
 */
export interface EventsService {
  emit(type: string, data: Record<string, unknown>): void
}

/** Services a room's plugins provide to each other, set in their onLoad. */
export interface RoomServices {
  identity?: IdentityService
  events?: EventsService
}

export interface BeforeUpdateContext {
  room: RoomHandle
  connection: Connection
  update: Uint8Array
  /** Client ids that author structs in the update, mapped to their first clock. */
  structClients: Map<number, number>
}

export interface UpdateContext {
  room: RoomHandle
  connection: Connection
  doc: Y.Doc
  /**
   * The open transaction the update is applied in. Several updates of a room may share it
   * (they are applied in batches): its before-state and delete set span all of them, so
   * judge this update through `view`.
   */
  transaction: Y.Transaction
  /** The changes of this update, with before-state helpers. */
  view: TransactionView
  /** Rejects one change: it is undone by a server-authored compensation in the same step. */
  reject(change: Change, reason: string, message: string): void
  /** True once some plugin rejected `change`. */
  isRejected(change: Change): boolean
  /** Runs `fn` as a server change inside this transaction (e.g. a transformation). */
  serverEdit(fn: () => void): void
}

export interface AfterApplyContext {
  room: RoomHandle
  connection: Connection
  /** Number of changes rejected in this update. */
  rejected: number
  /** The rejected changes: their paths, reasons and messages (as the author is told). */
  rejections: readonly RejectedChange[]
}

export interface ConnectionContext {
  room: RoomHandle
  connection: Connection
}

export interface RequestContext {
  room: RoomHandle
  connection: Connection
}

/** Handles one extension request method; the result goes back to the caller. Throw a Refusal to refuse. */
export type RequestHandler = (ctx: RequestContext, params: AnyValue) => AnyValue | Promise<AnyValue>

export interface AuthenticateContext {
  room: string
  request: IncomingMessage
  /** `?token=` query parameter, or null. */
  token: string | null
}

/** A GET or HEAD request no built-in route answered (health, metrics, cluster), before static files. */
export interface HttpRouteContext {
  request: IncomingMessage
  response: ServerResponse
  url: URL
  /** The room registry (loaded rooms, reads of any room) and the storage (stored rooms). */
  rooms: Rooms
  storage: Storage
  /** Cluster mode: this node's name; undefined on a single server. */
  node?: string
  /** Cluster mode: the HTTP address another node (a lease holder's name) published, or null. */
  nodeUrl?: (node: string) => Promise<string | null>
}

/**
 * Returns the principal for a new connection, or throws a Refusal (code 'unauthorized' or
 * 'forbidden') to close it with 4401/4403.
 */
export type AuthenticateHook = (ctx: AuthenticateContext) => Principal | Promise<Principal>

export interface YroomPlugin {
  /** Unique name, used in logs. */
  name: string
  /** A room was loaded from storage, before any client receives its state. */
  onLoad?(room: RoomHandle): void | Promise<void>
  /** A connection was authenticated and is about to join. Throw a Refusal to refuse it. */
  onConnect?(ctx: ConnectionContext): void | Promise<void>
  /** The client sent the extension hello announcing its Yjs client id. Throw a Refusal to refuse it. */
  onHello?(ctx: ConnectionContext & { clientID: number }): void
  /** Before an update is applied: throw a Refusal to refuse it whole (nothing applied). */
  beforeUpdate?(ctx: BeforeUpdateContext): void
  /** Inside the applying transaction: judge `ctx.view.changes`, reject parts, add server changes. */
  onUpdate?(ctx: UpdateContext): void
  /** After the update (accepted part plus compensation) is applied. */
  afterApply?(ctx: AfterApplyContext): void
  /**
   * Before an awareness update is applied: return the client ids whose entries may be
   * applied (others are dropped), or nothing to keep all; throw a Refusal to refuse it.
   * Stock y-websocket clients relay other clients' states, so dropping is the usual answer.
   */
  beforeAwareness?(ctx: ConnectionContext & { clientIds: number[] }): number[] | void
  /** A connection closed (cleanly or by heartbeat timeout). */
  onDisconnect?(ctx: ConnectionContext): void | Promise<void>
  /** Changes of the room were stored: its log now ends at `seq`. Observe only; runs once per tick with changes. */
  onStored?(room: RoomHandle, seq: number): void
  /** The room is about to unload (its idle time after the last client passed). */
  onUnload?(room: RoomHandle): void | Promise<void>
  /**
   * Serves an HTTP GET/HEAD request (e.g. a page or an event stream of its own): return true
   * when it answered, false to pass it on. Plugins are asked in registration order.
   */
  http?(ctx: HttpRouteContext): boolean | Promise<boolean>
  /** Extension request methods (SPEC §7) this plugin answers. */
  requests?: Record<string, RequestHandler>
}
