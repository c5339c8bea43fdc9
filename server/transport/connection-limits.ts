/**
 * Connection limits (SPEC §12): WebSocket connections in all and per remote address, and the
 * TCP sockets that have not (yet) become one, counted from the moment they are accepted.
 *
 * Every accepted socket is either
 * - **admitted**: it asked for a WebSocket upgrade and got a place under `maxConnections` and
 *   `maxConnectionsPerAddress`. It keeps the place until the socket closes (through
 *   authentication, room load and the whole session);
 * - **pending**: everything else: a socket still sending its request headers, a plain HTTP
 *   connection (health checks, metrics, static files), an upgrade that was refused with 1013
 *   and is closing. Pending sockets have a cap of their own, the same numbers again, checked
 *   when the socket is accepted: over it the socket is destroyed at once, before a byte is
 *   parsed. So one address never holds more than twice `maxConnectionsPerAddress` sockets
 *   (and those that never finish their headers go after `headersTimeoutMs`).
 *
 * The cap on pending sockets is checked first, on TCP accept: there is no WebSocket yet to
 * close with a code. An upgrade over the WebSocket limits is completed and closed with 1013
 * and a reason, so stock clients see why and retry later.
 *
 * Addresses: IPv4-mapped IPv6 (`::ffff:1.2.3.4`) counts as the IPv4 address; IPv6 addresses
 * count by their /64 prefix, what one host or one household typically gets, so a client
 * cannot escape the limit by cycling through the addresses of its own prefix.
 */
import { isIPv4, isIPv6, type Socket } from 'node:net'
import type { Logger } from '../logger.js'
import type { Metrics } from '../metrics.js'

export interface ConnectionLimitOptions {
  /** Admitted WebSocket connections in all; 0: no limit. */
  maxConnections: number
  /** Admitted WebSocket connections per address (IPv6: per /64); 0: no limit. */
  maxConnectionsPerAddress: number
}

/** Why a socket or an upgrade was refused; also the `reason` label of `yroom_rejected_messages_total`. */
export type LimitReason = 'connections-per-address' | 'connections-total'

export interface Refused {
  reason: LimitReason
  /** Close reason for the client (1013). */
  message: string
}

/** The key a remote address is counted under. */
export function addressKey(address: string | undefined): string {
  if (!address) return 'unknown'
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  if (mapped) return mapped[1]!
  if (isIPv4(address)) return address
  const bare = address.split('%')[0]! // a zone id (fe80::1%eth0) names an interface, not a host
  if (!isIPv6(bare)) return address
  return ipv6Prefix64(bare)
}

/** The first four 16-bit groups of an IPv6 address, normalised: `2001:db8:0:1::/64`. */
function ipv6Prefix64(address: string): string {
  const groupsOf = (part: string): string[] =>
    part === '' ? [] : part.split(':').flatMap((g) => (g.includes('.') ? ['0', '0'] : [g])) // a trailing IPv4 part is two groups
  const gap = address.indexOf('::')
  const head = groupsOf(gap === -1 ? address : address.slice(0, gap))
  const tail = gap === -1 ? [] : groupsOf(address.slice(gap + 2))
  const groups = [...head, ...new Array<string>(Math.max(0, 8 - head.length - tail.length)).fill('0'), ...tail]
  return `${groups
    .slice(0, 4)
    .map((g) => parseInt(g, 16).toString(16))
    .join(':')}::/64`
}

interface Count {
  pending: number
  admitted: number
}

interface SocketState {
  key: string
  admitted: boolean
}

/** One log line per reason and second at most: a flood of refusals must not flood the logs. */
export class ThrottledLog {
  private last = new Map<string, { at: number; suppressed: number }>()
  constructor(private logger: Logger) {}

  warn(reason: string, fields: Record<string, unknown>, msg: string): void {
    const now = Date.now()
    const entry = this.last.get(reason)
    if (entry && now - entry.at < 1000) {
      entry.suppressed++
      return
    }
    this.last.set(reason, { at: now, suppressed: 0 })
    this.logger.warn({ ...fields, reason, ...(entry?.suppressed ? { suppressed: entry.suppressed } : {}) }, msg)
  }
}

export class ConnectionGate {
  private counts = new Map<string, Count>()
  private sockets = new WeakMap<Socket, SocketState>()
  private pendingTotal = 0
  private admittedTotal = 0
  readonly log: ThrottledLog

  constructor(
    private limits: ConnectionLimitOptions,
    private metrics: Metrics,
    logger: Logger,
  ) {
    this.log = new ThrottledLog(logger)
  }

  /** WebSocket connections admitted and not yet closed, in all. */
  get admitted(): number {
    return this.admittedTotal
  }

  /** Sockets accepted that are not admitted WebSocket connections. */
  get pending(): number {
    return this.pendingTotal
  }

  /**
   * At the HTTP server's 'connection' event. Counts the socket as pending until it closes,
   * or destroys it at once (false) when its address, or the server, has as many pending
   * sockets as the limits allow WebSocket connections.
   */
  accept(socket: Socket): boolean {
    const key = addressKey(socket.remoteAddress)
    const count = this.counts.get(key) ?? { pending: 0, admitted: 0 }
    const refused = over(count.pending, this.limits.maxConnectionsPerAddress)
      ? 'connections-per-address'
      : over(this.pendingTotal, this.limits.maxConnections)
        ? 'connections-total'
        : null
    if (refused) {
      this.metrics.rejectedMessages.inc({ reason: refused })
      this.log.warn(refused, { address: key, pending: count.pending }, 'socket refused: too many open sockets that are not WebSocket connections')
      socket.destroy()
      return false
    }
    count.pending++
    this.pendingTotal++
    this.counts.set(key, count)
    const state: SocketState = { key, admitted: false }
    this.sockets.set(socket, state)
    socket.once('close', () => this.release(state))
    return true
  }

  /**
   * At a WebSocket upgrade: admits the socket (it counts as a connection until it closes)
   * and returns null, or returns why it may not become one. Counting and logging the
   * refusal is the caller's, once it has closed the new WebSocket with 1013.
   */
  admit(socket: Socket): Refused | null {
    const state = this.sockets.get(socket)
    if (!state) return null // not seen at accept (cannot happen with the server's own listener)
    if (state.admitted) return null
    const count = this.counts.get(state.key)!
    if (over(count.admitted, this.limits.maxConnectionsPerAddress)) {
      return { reason: 'connections-per-address', message: 'too many connections from this address' }
    }
    if (over(this.admittedTotal, this.limits.maxConnections)) {
      return { reason: 'connections-total', message: 'server at its connection limit' }
    }
    state.admitted = true
    count.pending--
    this.pendingTotal--
    count.admitted++
    this.admittedTotal++
    return null
  }

  private release(state: SocketState): void {
    const count = this.counts.get(state.key)
    if (!count) return
    if (state.admitted) {
      count.admitted--
      this.admittedTotal--
    } else {
      count.pending--
      this.pendingTotal--
    }
    if (count.admitted === 0 && count.pending === 0) this.counts.delete(state.key)
  }
}

/** True when `n` more would pass `limit` (0: no limit). */
function over(n: number, limit: number): boolean {
  return limit > 0 && n >= limit
}

/**
 * Node's HTTP timeouts for `headersTimeoutMs` (0: none). Node checks them only every
 * `connectionsCheckingInterval` (30 s by default), so a short header timeout would be
 * honoured up to 30 s late: the check runs at a quarter of the timeout, at most every second.
 * The request timeout (whole request; ours have no body) stays Node's 300 s unless the
 * header timeout is longer (Node requires it to be at least as long).
 */
export function httpTimeouts(headersTimeoutMs: number): { headersTimeout: number; requestTimeout: number; connectionsCheckingInterval: number } {
  if (headersTimeoutMs <= 0) return { headersTimeout: 0, requestTimeout: 300_000, connectionsCheckingInterval: 30_000 }
  return {
    headersTimeout: headersTimeoutMs,
    requestTimeout: Math.max(300_000, headersTimeoutMs),
    connectionsCheckingInterval: Math.min(1000, Math.max(25, Math.floor(headersTimeoutMs / 4))),
  }
}
