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
import type { IncomingMessage } from 'node:http'
import type { AnyValue } from '../src/shared/protocol/extension.js'
import type { Change, TransactionView } from './room/transaction-view.js'
import type { Connection } from './transport/connection.js'
import type { Room } from './room/room.js'

/** Who a connection acts for. Returned by the `authenticate` hook. */
export interface Principal {
  /** Stable id of the user; anonymous principals get a per-connection id. */
  id: string
  /** True when no authenticate hook vouched for this principal. */
  anonymous: boolean
  /** Read-only connections have every change rejected (and rolled back). */
  readOnly?: boolean
  /** Anything the application wants to carry along. */
  data?: unknown
}

/** The server's own principal: authors compensations, lifetime deletions, backend edits. */
export const SERVER_PRINCIPAL: Principal = Object.freeze({ id: '$server', anonymous: false })

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

export interface BeforeUpdateContext {
  room: Room
  connection: Connection
  update: Uint8Array
  /** Client ids that author structs in the update, mapped to their first clock. */
  structClients: Map<number, number>
}

export interface UpdateContext {
  room: Room
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
  room: Room
  connection: Connection
  /** Number of changes rejected in this update. */
  rejected: number
}

export interface ConnectionContext {
  room: Room
  connection: Connection
}

export interface RequestContext {
  room: Room
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

/**
 * Returns the principal for a new connection, or throws a Refusal (code 'unauthorized' or
 * 'forbidden') to close it with 4401/4403.
 */
export type AuthenticateHook = (ctx: AuthenticateContext) => Principal | Promise<Principal>

export interface YroomPlugin {
  /** Unique name, used in logs. */
  name: string
  /** A room was loaded from storage, before any client receives its state. */
  onLoad?(room: Room): void | Promise<void>
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
  /** The room is about to unload (its idle time after the last client passed). */
  onUnload?(room: Room): void | Promise<void>
  /** Extension request methods (SPEC §7) this plugin answers. */
  requests?: Record<string, RequestHandler>
}
