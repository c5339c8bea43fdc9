/**
 * One client connection: the socket, who it acts for, and what it has opted into.
 * Sending goes through here so every outgoing byte is counted and slow consumers are cut off.
 */
import type { Duplex } from 'node:stream'
import type { WebSocket } from 'ws'
import { encodeError } from '../../src/shared/protocol/extension.js'
import type { Principal } from './principal.js'
import type { Logger } from '../logger.js'
import type { Metrics } from '../metrics.js'
import { frameHeaderLength } from './ws-frame.js'
import type { InboundFlow } from './inbound-flow.js'

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

/**
 * Frames at least this large are tracked while queued (a write callback each), so that the
 * slow-consumer bound can exempt the largest. Smaller ones are not worth a callback: the
 * bound is then stricter by less than this.
 */
const LARGE_FRAME_BYTES = 64 * 1024

/**
 * Bytes of a socket's output the kernel has taken so far, partial writes included (a sync
 * answer of many megabytes is one write), or null where the stream does not tell (not a
 * net.Socket). Node's stream queue keeps a chunk whole until it is written completely;
 * libuv's `writeQueueSize` says how much of the dispatched writes is still waiting.
 */
function sentBytes(stream: Duplex): number | null {
  const s = stream as Duplex & { _bytesDispatched?: unknown; _handle?: { writeQueueSize?: unknown } | null }
  const dispatched = s._bytesDispatched
  const waiting = s._handle?.writeQueueSize
  return typeof dispatched === 'number' && typeof waiting === 'number' ? dispatched - waiting : null
}

export interface ConnectionLimits {
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
  /** Sizes of the frames of LARGE_FRAME_BYTES or more still in the stream's queue, oldest first. */
  private largeQueued: number[] = []
  /** Bytes the kernel had taken at the previous heartbeat while data was waiting, else null. */
  private sentAtLastCheck: number | null = null
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
    /** Replaced (same id) when the client sends a new token (server/transport/token-expiry.ts). */
    public principal: Principal,
    private metrics: Metrics,
    private limits: ConnectionLimits,
    private logger: Logger | undefined,
    /** What decides when this connection's socket is read. */
    readonly inbound: InboundFlow,
  ) {}

  /** Set by `server.setReadOnly`: overrides `principal.readOnly`, a refreshed token's included. */
  readOnlyOverride: boolean | null = null

  get readOnly(): boolean {
    return this.readOnlyOverride ?? this.principal.readOnly === true
  }

  /**
   * True for a read-only connection (every write it makes is rolled back) and for one
   * whose writes were rejected lately: its updates are applied quickly (inbox.ts).
   */
  underWatch(): boolean {
    return this.readOnly || Date.now() - this.lastRejectionAt < WATCH_AFTER_REJECTION_MS
  }

  /**
   * Sends one message through ws, which writes its header and the bytes without copying
   * them (a sync answer can be the whole document).
   */
  send(bytes: Uint8Array): void {
    const frameBytes = frameHeaderLength(bytes.byteLength) + bytes.byteLength
    if (!this.mayWrite(frameBytes)) return
    if (frameBytes < LARGE_FRAME_BYTES) this.socket.send(bytes)
    else this.socket.send(bytes, this.trackLarge(frameBytes))
    this.counted(frameBytes)
  }

  /** Sends a frame from `binaryFrame`: a broadcast is framed once for all its receivers. */
  sendFrame(frame: Buffer): void {
    if (!this.mayWrite(frame.byteLength)) return
    if (frame.byteLength < LARGE_FRAME_BYTES) this.stream.write(frame)
    else this.stream.write(frame, this.trackLarge(frame.byteLength))
    this.counted(frame.byteLength)
  }

  /**
   * False when the connection is closing, or is cut off now for not reading what it was
   * sent: when, with the `frameBytes` about to be written, the data queued for it would pass
   * the largest message in its queue by more than `maxBufferedBytes`. The largest message is
   * exempt so that one big answer (a late joiner's sync step 2 can be the whole document)
   * is delivered to a client that reads it, however large; everything queued behind or
   * beside it counts, a second big answer included.
   */
  private mayWrite(frameBytes: number): boolean {
    // `writable` turns false as soon as the stream ends or is destroyed, which can be a tick
    // before ws sees the close and leaves OPEN.
    if (this.closed || this.socket.readyState !== this.socket.OPEN || !this.stream.writable) return false
    // The stream's queue is ws's bufferedAmount: without compression ws queues nothing itself.
    // It holds each chunk whole until the kernel has taken all of it.
    const queued = this.stream.writableLength + frameBytes
    if (queued <= this.limits.maxBufferedBytes) return true
    let largest = frameBytes
    for (const n of this.largeQueued) if (n > largest) largest = n
    if (queued - largest <= this.limits.maxBufferedBytes) return true
    this.drop('slow consumer: unsent data over the limit', { queued })
    return false
  }

  /**
   * Remembers a large frame while it waits in the stream's queue; the returned write
   * callback forgets it (the stream completes its writes in order).
   */
  private trackLarge(frameBytes: number): () => void {
    this.largeQueued.push(frameBytes)
    return () => void this.largeQueued.shift()
  }

  /**
   * Heartbeat check: true when data has been waiting for this connection since the previous
   * heartbeat and not one byte of it has been taken by the client (handed to the kernel).
   * Such a connection is dropped even if it keeps sending, which would keep it alive for the
   * heartbeat otherwise. A slow reader makes progress and is left alone.
   */
  stalled(): boolean {
    const sent = this.stream.writableLength > 0 ? sentBytes(this.stream) : null
    const stalled = sent !== null && sent === this.sentAtLastCheck
    this.sentAtLastCheck = sent
    return stalled
  }

  /**
   * Dropped, not closed: a close frame would wait behind the data the client does not read,
   * and the connection (its awareness, its ownerships) would linger until the closing
   * handshake timed out.
   */
  drop(why: string, fields: Record<string, unknown> = {}): void {
    if (this.closed) return
    this.metrics.rejectedMessages.inc({ reason: 'slow-consumer' })
    this.logger?.warn({ room: this.room, conn: this.id, ...fields }, why)
    this.terminate()
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

  close(code: number, reason: string): void {
    if (this.closed) return
    this.closed = true
    this.inbound.closing()
    closeSocket(this.socket, code, reason)
  }

  terminate(): void {
    this.closed = true
    this.socket.terminate()
  }
}
