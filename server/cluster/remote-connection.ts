/**
 * A client connected to another node, as the room's authority sees it (SPEC §11). It is a
 * Connection to the room pipeline and the plugins, so every rule holds for it unchanged;
 * what it sends goes to its node's output stream (outbox.ts) instead of a socket.
 */
import { Connection } from '../transport/connection.js'
import { binaryFrame } from '../transport/ws-frame.js'
import type { Principal } from '../transport/principal.js'
import type { Metrics } from '../metrics.js'
import type { Logger } from '../logger.js'
import type { Outbox } from './outbox.js'

/**
 * A remote connection has no socket, stream or inbound flow: every method that would touch
 * them is overridden below. Touching one anyway is a bug, and says so.
 */
const NO_SOCKET = new Proxy(
  {},
  {
    get(_t, prop) {
      throw new Error(`a remote connection has no socket (${String(prop)})`)
    },
  },
) as never

export class RemoteConnection extends Connection {
  constructor(
    /** The node the client is connected to. */
    readonly node: string,
    /** The connection's id on that node. */
    readonly remoteId: number,
    room: string,
    principal: Principal,
    metrics: Metrics,
    logger: Logger,
    private outbox: Outbox,
  ) {
    super(NO_SOCKET, NO_SOCKET, room, principal, metrics, { maxBufferedBytes: Infinity }, logger, NO_SOCKET)
  }

  /** `node|id`: the key of this connection in the room's member list. */
  get key(): string {
    return `${this.node}|${this.remoteId}`
  }

  override send(bytes: Uint8Array): void {
    this.sendFrame(binaryFrame(bytes))
  }

  override sendFrame(frame: Buffer): void {
    if (this.closed) return
    this.outbox.frame(this.node, this.room, this.remoteId, frame)
  }

  override close(code: number, reason: string): void {
    if (this.closed) return
    this.closed = true
    this.outbox.close(this.node, this.room, this.remoteId, code, reason)
  }

  override terminate(): void {
    if (this.closed) return
    this.closed = true
    this.outbox.close(this.node, this.room, this.remoteId, 0, '')
  }

  /** Its node's socket is watched there (slow consumers, heartbeat). */
  override stalled(): boolean {
    return false
  }

  /** Forgotten without a word: another node serves the room now, or the client's node left. */
  silence(): void {
    this.closed = true
  }
}
