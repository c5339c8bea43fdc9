/**
 * One client connection: the socket, who it acts for, and what it has opted into.
 * Sending goes through here so every outgoing byte is counted and slow consumers are cut off.
 */
import type { Duplex } from 'node:stream'
import type { WebSocket } from 'ws'
import { encodeError, encodeRejected, type RejectedChange } from '../src/protocol/extension.js'
import { CloseCode } from '../src/protocol/close-codes.js'
import type { Principal } from './plugin.js'
import type { Metrics } from './metrics.js'
import { frameHeaderLength } from './ws-frame.js'

let nextConnectionId = 1

/**
 * How long a connection stays under watch after a rejected write: its updates are then
 * applied within `applyDelayMs` instead of at the tick, so its rollbacks come quickly.
 */
export const WATCH_AFTER_REJECTION_MS = 10_000

/** The WebSocket protocol limits a close reason to 123 bytes of UTF-8 (ws throws beyond). */
const MAX_REASON_BYTES = 123

/** Shortens `reason` to fit a close frame, cutting at a character boundary. */
export function fitCloseReason(reason: string): string {
  if (Buffer.byteLength(reason) <= MAX_REASON_BYTES) return reason
  let out = ''
  let bytes = 0
  for (const ch of reason) {
    const n = Buffer.byteLength(ch)
    if (bytes + n > MAX_REASON_BYTES - 3) break // room for the 3-byte ellipsis
    out += ch
    bytes += n
  }
  return out + '…'
}

/** Closes a socket with a code and a reason; never throws (an unusable socket is terminated). */
export function closeSocket(socket: WebSocket, code: number, reason: string): void {
  try {
    socket.close(code, fitCloseReason(reason))
  } catch {
    socket.terminate()
  }
}

/** Token bucket: `rate` messages per second with a burst of `burst`. */
class RateLimiter {
  private tokens: number
  private last = Date.now()
  constructor(
    private rate: number,
    private burst: number,
  ) {
    this.tokens = burst
  }
  take(): boolean {
    const now = Date.now()
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate)
    this.last = now
    if (this.tokens < 1) return false
    this.tokens -= 1
    return true
  }
}

export interface ConnectionLimits {
  messagesPerSecond: number
  messageBurst: number
  maxBufferedBytes: number
}

export class Connection {
  readonly id = nextConnectionId++
  /** Set when the client sent the extension hello (SPEC §7). */
  helloed = false
  /** The Yjs client id announced in the hello, if any. */
  announcedClientID: number | null = null
  /** Awareness client ids this connection has published (removed when it closes). */
  readonly awarenessIds = new Set<number>()
  /** Heartbeat: cleared on each ping, set by any pong or message. */
  alive = true
  closed = false
  /** Set once the client was told it may not write (auth message sent once). */
  permissionDeniedSent = false
  /** Consecutive refused updates; too many closes the connection. */
  refusals = 0
  /** When a write of this connection was last rejected (Date.now()), or -Infinity. */
  lastRejectionAt = -Infinity
  private limiter: RateLimiter
  /** Free-form per-plugin state, keyed by plugin name. */
  readonly pluginState = new Map<string, unknown>()

  /**
   * @param socket the WebSocket: receiving, pings, closing
   * @param stream the upgraded TCP stream under it: our frames are written to it directly
   *   (ws-frame.ts). Without compression ws writes each frame synchronously and whole, so
   *   frames written either way never interleave.
   */
  constructor(
    readonly socket: WebSocket,
    private stream: Duplex,
    readonly room: string,
    readonly principal: Principal,
    private metrics: Metrics,
    private limits: ConnectionLimits,
  ) {
    this.limiter = new RateLimiter(limits.messagesPerSecond, limits.messageBurst)
  }

  get readOnly(): boolean {
    return this.principal.readOnly === true
  }

  /**
   * True for a read-only connection (every write it makes is rolled back) and for one
   * whose writes were rejected lately: its updates are applied quickly (inbox.ts).
   */
  underWatch(): boolean {
    return this.readOnly || Date.now() - this.lastRejectionAt < WATCH_AFTER_REJECTION_MS
  }

  /** False when the client exceeded its message rate. */
  takeMessageToken(): boolean {
    return this.limiter.take()
  }

  /**
   * Sends one message through ws, which writes its header and the bytes without copying
   * them (a sync answer can be the whole document).
   */
  send(bytes: Uint8Array): void {
    if (!this.mayWrite()) return
    this.socket.send(bytes)
    this.counted(frameHeaderLength(bytes.byteLength) + bytes.byteLength)
  }

  /** Sends a frame from `binaryFrame`: a broadcast is framed once for all its receivers. */
  sendFrame(frame: Buffer): void {
    if (!this.mayWrite()) return
    this.stream.write(frame)
    this.counted(frame.byteLength)
  }

  /** False when the connection is closing, or is cut off now for not reading what it was sent. */
  private mayWrite(): boolean {
    // `writable` turns false as soon as the stream ends or is destroyed, which can be a tick
    // before ws sees the close and leaves OPEN.
    if (this.closed || this.socket.readyState !== this.socket.OPEN || !this.stream.writable) return false
    // The stream's queue is ws's bufferedAmount: without compression ws queues nothing itself.
    if (this.stream.writableLength <= this.limits.maxBufferedBytes) return true
    // Dropped, not closed: a close frame would wait behind the data the client does not
    // read, and the connection (its awareness, its ownerships) would linger until the
    // closing handshake timed out.
    this.metrics.rejectedMessages.inc({ reason: 'slow-consumer' })
    this.terminate()
    return false
  }

  private counted(frameBytes: number): void {
    this.metrics.messagesOut.inc()
    this.metrics.bytesOut.inc(frameBytes)
  }

  /** Extension messages go only to clients that said hello. */
  sendExtension(bytes: Uint8Array): void {
    if (this.helloed) this.send(bytes)
  }

  sendError(code: string, message: string): void {
    this.sendExtension(encodeError({ code, message }))
  }

  sendRejected(changes: RejectedChange[]): void {
    if (changes.length > 0) this.sendExtension(encodeRejected(changes))
  }

  close(code: number, reason: string): void {
    if (this.closed) return
    this.closed = true
    closeSocket(this.socket, code, reason)
  }

  terminate(): void {
    this.closed = true
    this.socket.terminate()
  }
}
