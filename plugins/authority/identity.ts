/**
 * Identity binding (SPEC §3): every Yjs client id a connection writes under is bound to that
 * connection and its principal. The table lives with the room and is stored beside its log,
 * so persistent ownership outlives the session that created it.
 */
import { Refusal, SERVER_PRINCIPAL, type IdentityService, type Principal, type RoomHandle } from '../../server/plugin.js'
import type { Connection } from '../../server/transport/connection.js'
import { CloseCode } from '../../src/shared/protocol/close-codes.js'

export interface Binding {
  principalId: string
  anonymous: boolean
  /** The live connection, or null when it closed (or the room was reloaded). */
  conn: Connection | null
  /** Id of the last connection that held this binding (0 = none in this process). */
  connId: number
  /**
   * Bound only because the connection published awareness or said hello under it: kept in memory while
   * the connection lives, never stored (SPEC §12: nothing of awareness is persisted).
   */
  awarenessOnly?: boolean
}

const STORAGE_KEY = 'authority.bindings'

interface StoredBinding {
  p: string
  a: boolean
}

export class IdentityTable implements IdentityService {
  private bindings = new Map<number, Binding>()
  private saving: Promise<void> = Promise.resolve()
  private dirty = false

  constructor(private room: RoomHandle) {}

  /** Loads the stored table (called from onLoad) and binds this process's server ids. */
  async load(): Promise<void> {
    const raw = await this.room.metadata.get(STORAGE_KEY)
    if (raw) {
      const stored = JSON.parse(Buffer.from(raw).toString('utf8')) as Record<string, StoredBinding>
      for (const [id, b] of Object.entries(stored)) this.bindings.set(Number(id), { principalId: b.p, anonymous: b.a, conn: null, connId: 0 })
    }
    // Bound, not yet stored: they are stored with the table's next change, so a room that
    // is only opened and read (any name a client asks for) leaves nothing on disk.
    for (const id of this.room.serverClientIds) this.bindings.set(id, { principalId: SERVER_PRINCIPAL.id, anonymous: false, conn: null, connId: 0 })
  }

  get(clientID: number): Binding | undefined {
    return this.bindings.get(clientID)
  }

  bindServer(clientID: number): void {
    this.bindings.set(clientID, { principalId: SERVER_PRINCIPAL.id, anonymous: false, conn: null, connId: 0 })
    this.scheduleSave()
  }

  /** Whether the principal `clientID` is bound to is anonymous; undefined when unbound. */
  isAnonymous(clientID: number): boolean | undefined {
    return this.bindings.get(clientID)?.anonymous
  }

  /** True when `clientID` is bound to this very connection. */
  isOwnConnection(clientID: number, conn: Connection): boolean {
    return this.bindings.get(clientID)?.conn === conn
  }

  /** True when `conn` holds `clientID` with a stored binding (it has written under it, or said hello). */
  isBoundForWriting(clientID: number, conn: Connection): boolean {
    const b = this.bindings.get(clientID)
    return b !== undefined && b.conn === conn && b.awarenessOnly !== true
  }

  /** True when `clientID` was bound to the same authenticated principal as `conn` (a re-take, §3). */
  isSamePrincipal(clientID: number, principal: Principal): boolean {
    const b = this.bindings.get(clientID)
    return b !== undefined && !principal.anonymous && !b.anonymous && b.principalId === principal.id
  }

  /**
   * Why `conn` may not write under `clientID`, or null when it may. A closed connection's id
   * may be bound again by the same authenticated principal; an anonymous one by an
   * anonymous connection (a stock client reconnecting keeps its id, and without
   * authentication there is no stronger identity to check).
   */
  check(clientID: number, conn: Connection): Refusal | null {
    if (clientID === 0) return new Refusal('reserved-client-id', 'client id 0 is reserved for the server')
    const b = this.bindings.get(clientID)
    if (b === undefined || b.conn === conn) return null
    if (b.principalId === SERVER_PRINCIPAL.id) return new Refusal('reserved-client-id', `client id ${clientID} belongs to the server`)
    const authenticatedSame = !b.anonymous && !conn.principal.anonymous && b.principalId === conn.principal.id
    const live = b.conn !== null && !b.conn.closed
    // The same authenticated user on a new socket replaces a stale one (a dead socket whose
    // heartbeat has not timed out yet); anonymous connections cannot prove they are the same.
    if (live && !authenticatedSame) return new Refusal('identity-mismatch', `client id ${clientID} is bound to another connection`)
    if (!authenticatedSame && !(b.anonymous && conn.principal.anonymous)) {
      return new Refusal('identity-mismatch', `client id ${clientID} is bound to another principal`)
    }
    return null
  }

  /** Binds every id to `conn`, or throws (binding none) when one of them belongs to someone else. */
  bindAll(clientIDs: Iterable<number>, conn: Connection): void {
    const ids = [...clientIDs]
    for (const id of ids) {
      const refusal = this.check(id, conn)
      if (refusal) throw refusal
    }
    for (const id of ids) this.bind(id, conn)
  }

  /** Binds one id already checked with `check`; a stale socket of the same principal is closed. */
  private bind(clientID: number, conn: Connection): void {
    const b = this.bindings.get(clientID)
    if (b?.conn === conn) {
      // Writing under an id held for awareness only makes its binding a stored one.
      if (b.awarenessOnly || b.principalId !== conn.principal.id) {
        b.awarenessOnly = false
        b.principalId = conn.principal.id
        b.anonymous = conn.principal.anonymous
        this.scheduleSave()
      }
      return
    }
    if (b?.conn && !b.conn.closed) b.conn.close(CloseCode.POLICY_VIOLATION, 'replaced by a newer connection of the same user')
    this.bindings.set(clientID, { principalId: conn.principal.id, anonymous: conn.principal.anonymous, conn, connId: conn.id })
    if (b === undefined || b.principalId !== conn.principal.id || b.awarenessOnly) this.scheduleSave()
  }

  /**
   * Whether `conn` may publish awareness (or announce itself) under `clientID`. A free id is then bound to
   * `conn` in memory only, until `conn` closes: it is not stored (SPEC §12: nothing of
   * awareness is persisted).
   */
  bindInMemory(clientID: number, conn: Connection): boolean {
    const b = this.bindings.get(clientID)
    if (b?.conn === conn) return true
    if (this.check(clientID, conn)) return false
    if (b === undefined) {
      this.bindings.set(clientID, { principalId: conn.principal.id, anonymous: conn.principal.anonymous, conn, connId: conn.id, awarenessOnly: true })
    } else {
      // A stored binding the check lets this connection take: held in memory, stored
      // unchanged until the connection writes under it.
      if (b.conn && !b.conn.closed) b.conn.close(CloseCode.POLICY_VIOLATION, 'replaced by a newer connection of the same user')
      b.conn = conn
      b.connId = conn.id
    }
    return true
  }

  /** Client ids bound to `conn` (while it is open). */
  idsOf(conn: Connection): number[] {
    const out: number[] = []
    for (const [id, b] of this.bindings) if (b.conn === conn) out.push(id)
    return out
  }

  /** Client ids whose last connection was `connId` and that no connection holds now. */
  idsLeftBy(connId: number): number[] {
    const out: number[] = []
    for (const [id, b] of this.bindings) if (b.connId === connId && b.conn === null) out.push(id)
    return out
  }

  /** True when some open connection holds `clientID`. */
  isLive(clientID: number): boolean {
    const b = this.bindings.get(clientID)
    return b !== undefined && b.conn !== null && !b.conn.closed
  }

  adoptStoredIds(conn: Connection): void {
    for (const b of this.bindings.values()) {
      if (b.conn !== null || b.awarenessOnly || b.principalId !== conn.principal.id) continue
      b.conn = conn
      b.connId = conn.id
    }
  }

  /** Detaches `conn` from its ids; they stay bound to its principal (§3). */
  release(conn: Connection): void {
    for (const [id, b] of this.bindings) {
      if (b.conn !== conn) continue
      if (b.awarenessOnly) this.bindings.delete(id)
      else b.conn = null
    }
  }

  /** Persists the table (coalesced: at most one write in flight). */
  private scheduleSave(): void {
    if (this.dirty) return
    this.dirty = true
    this.saving = this.saving.then(async () => {
      this.dirty = false
      const out: Record<string, StoredBinding> = {}
      for (const [id, b] of this.bindings) if (!b.awarenessOnly) out[id] = { p: b.principalId, a: b.anonymous }
      try {
        await this.room.metadata.set(STORAGE_KEY, Buffer.from(JSON.stringify(out)))
      } catch (err) {
        this.room.logger.error({ err, room: this.room.name }, 'saving identity bindings failed')
      }
    })
  }

  /** Resolves once pending writes of the table are stored. */
  flush(): Promise<void> {
    return this.saving
  }
}
