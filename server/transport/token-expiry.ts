/**
 * Tokens that expire mid-session (docs/server.md#token-expiry-and-refresh). When a
 * connection's principal has `expiresAt`, the connection is, at that time:
 * - an extension client (it sent a hello): sent REFRESH_TOKEN, and closed with 4419 unless a
 *   valid new token (TOKEN) arrives within the grace period;
 * - a stock client (which could not answer): closed with 4419 at once.
 * A new token is checked by the same authenticate hook as the first one, for the same room and
 * upgrade request; it must name the same principal. Its rights (read-only, expiry) replace the
 * old ones; a `server.setReadOnly` override stays.
 */
import type { IncomingMessage } from 'node:http'
import { CloseCode } from '../../src/shared/protocol/close-codes.js'
import { encodeRefreshToken } from '../../src/shared/protocol/extension.js'
import { Refusal, type Principal } from '../plugin.js'
import type { Connection } from './connection.js'
import type { Logger } from '../logger.js'

/** setTimeout's longest delay; a later expiry is re-armed in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1

interface Watch {
  request: IncomingMessage
  /** The client sent a hello: it speaks the extension protocol and can be asked. */
  extension: boolean
  expiry: NodeJS.Timeout | null
  grace: NodeJS.Timeout | null
  /** A new token is being checked; further ones wait for it to finish. */
  checking: boolean
}

export interface TokenExpiryDeps {
  graceMs: number
  /** The server's authenticate path; null: no hook, so tokens mean nothing. */
  authenticate: ((room: string, req: IncomingMessage, token: string) => Promise<Principal>) | null
  /** The close code for a refusal of the hook (4401, 4403, 1013). */
  closeCodeOf: (err: unknown) => number
  logger: Logger
}

export class TokenExpiry {
  private watches = new Map<Connection, Watch>()

  constructor(private deps: TokenExpiryDeps) {}

  /** Starts watching an established connection; `forget` when its socket closes. */
  watch(conn: Connection, request: IncomingMessage): void {
    const w: Watch = { request, extension: conn.helloed, expiry: null, grace: null, checking: false }
    this.watches.set(conn, w)
    this.arm(conn, w)
  }

  forget(conn: Connection): void {
    const w = this.watches.get(conn)
    if (!w) return
    this.watches.delete(conn)
    if (w.expiry) clearTimeout(w.expiry)
    if (w.grace) clearTimeout(w.grace)
  }

  /** The client said hello (seen before any room, so relayed connections count too). */
  helloed(conn: Connection): void {
    const w = this.watches.get(conn)
    if (w) w.extension = true
  }

  private arm(conn: Connection, w: Watch): void {
    if (w.expiry) clearTimeout(w.expiry)
    w.expiry = null
    const at = conn.principal.expiresAt
    if (typeof at !== 'number' || !Number.isFinite(at)) return
    const delay = at - Date.now()
    w.expiry = setTimeout(() => {
      w.expiry = null
      if (at - Date.now() > 0) this.arm(conn, w) // a step of a far-off expiry
      else this.expired(conn, w)
    }, Math.min(Math.max(0, delay), MAX_TIMER_MS))
    w.expiry.unref()
  }

  private expired(conn: Connection, w: Watch): void {
    if (conn.closed || w.grace) return
    if (!w.extension) {
      this.deps.logger.info({ room: conn.room, conn: conn.id, principal: conn.principal.id }, 'token expired')
      conn.close(CloseCode.TOKEN_EXPIRED, 'token expired')
      return
    }
    const graceMs = this.deps.graceMs
    conn.send(encodeRefreshToken({ expiresAt: conn.principal.expiresAt ?? Date.now(), graceMs }))
    w.grace = setTimeout(() => {
      w.grace = null
      this.deps.logger.info({ room: conn.room, conn: conn.id, principal: conn.principal.id }, 'token expired; no new token in time')
      conn.close(CloseCode.TOKEN_EXPIRED, `token expired; no new token within ${graceMs} ms`)
    }, graceMs)
    w.grace.unref()
  }

  /** A TOKEN message: check it and take its rights, or close the connection with why. */
  async refresh(conn: Connection, token: string): Promise<void> {
    const w = this.watches.get(conn)
    const authenticate = this.deps.authenticate
    if (!w || !authenticate || w.checking || conn.closed) return
    w.checking = true
    let principal: Principal
    try {
      principal = await authenticate(conn.room, w.request, token)
    } catch (err) {
      w.checking = false
      if (conn.closed) return
      const reason = (err as Error)?.message || 'unauthorized'
      this.deps.logger.info({ room: conn.room, conn: conn.id, principal: conn.principal.id, reason }, 'token refresh refused')
      conn.close(err instanceof Refusal ? this.deps.closeCodeOf(err) : CloseCode.UNAUTHORIZED, `token refresh refused: ${reason}`)
      return
    }
    w.checking = false
    if (conn.closed || this.watches.get(conn) !== w) return
    if (typeof principal !== 'object' || principal === null || principal.id !== conn.principal.id) {
      conn.close(CloseCode.UNAUTHORIZED, 'token refresh refused: the new token is for another principal')
      return
    }
    const wasReadOnly = conn.readOnly
    conn.principal = principal
    if (conn.readOnly !== wasReadOnly) conn.permissionDeniedSent = false
    if (w.grace) clearTimeout(w.grace)
    w.grace = null
    this.arm(conn, w)
  }
}
