/**
 * Inbound flow control (SPEC §12): a connection that sends too fast is slowed, not closed.
 *
 * Three limits, all enforced by pausing the socket (TCP then pushes back on the client, and
 * nothing is lost or resent):
 * - messages per second and bytes per second per connection, token buckets that may go
 *   into debt: any single message up to `maxMessageBytes` is taken, and the connection
 *   then waits until the debt is paid back;
 * - bytes of partly received large messages across all connections (`maxPendingBytes`):
 *   each connection may send a message as large as the document cap, and this bounds what
 *   all of them together hold in memory while they arrive. The oldest holder always goes
 *   on, so large messages complete in turn and never deadlock.
 * Only abuse is closed: a single read holding more messages than a minute's worth.
 */
import type { Duplex } from 'node:stream'
import type { WebSocket } from 'ws'

/** Partly received messages below this stay out of the shared budget (most connections). */
const LARGE_PENDING_BYTES = 256 * 1024
/**
 * A connection whose message debt would take this long to pay back is abusing: more
 * messages arrived in a single read than an editor sends (y-websocket sends each
 * transaction as it happens; a burst of thousands still passes).
 */
const ABUSE_DEBT_SECONDS = 60
/** Longest single pause; the bucket is checked again then (a long debt pauses in steps). */
const MAX_PAUSE_MS = 1000

export type PauseReason = 'messages' | 'bytes' | 'memory'

export interface InboundLimits {
  messagesPerSecond: number
  messageBurst: number
  bytesPerSecond: number
}

/** Token bucket that may go into debt: `take` always succeeds and says how long to wait. */
class DebtBucket {
  private tokens: number
  private last = Date.now()
  constructor(
    private rate: number,
    readonly burst: number,
  ) {
    this.tokens = burst
  }
  /** Takes `n`; returns the tokens left (negative: a debt). */
  take(n: number): number {
    this.refill()
    this.tokens -= n
    return this.tokens
  }
  /** Milliseconds until the bucket is out of debt. */
  waitMs(): number {
    this.refill()
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens / this.rate) * 1000)
  }
  private refill(): void {
    const now = Date.now()
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate)
    this.last = now
  }
}

/**
 * Bytes of a message ws holds while it is still arriving: the unparsed input plus the
 * fragments collected so far. ws keeps these private; a test (limits.test.ts) fails if a
 * ws upgrade renames them, and without them only the per-connection limits apply.
 */
function receivingBytes(ws: WebSocket): number {
  const r = (ws as unknown as { _receiver?: { _bufferedBytes?: unknown; _fragments?: unknown } })._receiver
  if (!r || typeof r._bufferedBytes !== 'number') return 0
  let n = r._bufferedBytes
  if (Array.isArray(r._fragments)) for (const f of r._fragments as Uint8Array[]) n += f.byteLength
  return n
}

/** The shared budget for partly received large messages, across all connections. */
export class PendingBudget {
  /** Bytes each holder has pending; Map order is arrival order (the oldest goes on). */
  private holders = new Map<InboundFlow, number>()
  private total = 0
  private waiting = new Set<InboundFlow>()

  constructor(readonly maxBytes: number) {}

  get heldBytes(): number {
    return this.total
  }

  /** Records what `flow` holds; false when it must wait for others to finish first. */
  hold(flow: InboundFlow, bytes: number): boolean {
    if (bytes < LARGE_PENDING_BYTES) {
      this.release(flow)
      return true
    }
    const before = this.holders.get(flow) ?? 0
    this.holders.set(flow, bytes)
    this.total += bytes - before
    if (this.total <= this.maxBytes || this.holders.keys().next().value === flow) return true
    this.waiting.add(flow)
    return false
  }

  release(flow: InboundFlow): void {
    const held = this.holders.get(flow)
    this.waiting.delete(flow)
    if (held === undefined) return
    this.holders.delete(flow)
    this.total -= held
    // Let the waiting try again: each reads one more chunk, then is over the budget again
    // or goes on.
    const waiting = [...this.waiting]
    this.waiting.clear()
    for (const w of waiting) w.budgetFreed()
  }
}

/** One connection's inbound flow: decides when its socket is read. */
export class InboundFlow {
  private messages: DebtBucket
  private abuseDebt: number
  private bytes: DebtBucket
  private timer: NodeJS.Timeout | null = null
  private waitingForBudget = false
  private closed = false

  constructor(
    private ws: WebSocket,
    private stream: Duplex,
    limits: InboundLimits,
    private budget: PendingBudget,
    /** Told each time the socket is paused, and why. */
    private onPause: (reason: PauseReason) => void = () => {},
  ) {
    this.messages = new DebtBucket(limits.messagesPerSecond, limits.messageBurst)
    this.abuseDebt = ABUSE_DEBT_SECONDS * limits.messagesPerSecond + limits.messageBurst
    // Two seconds' worth of burst: short spikes pass without a pause.
    this.bytes = new DebtBucket(limits.bytesPerSecond, 2 * limits.bytesPerSecond)
    // After ws's own listener: the chunk has been parsed when this runs. The socket is read
    // while the connection is being set up, too: a client closing then must be heard (what
    // arrives meanwhile is bounded by the caller).
    stream.on('data', this.onData)
  }

  /** True while the socket is not being read (the heartbeat must not count it as dead). */
  get paused(): boolean {
    return this.timer !== null || this.waitingForBudget
  }

  /**
   * One complete message was received. False when the connection is abusing (more messages
   * in one read than it may send in a minute): the caller closes it.
   */
  onMessage(): boolean {
    if (this.closed) return true
    const left = this.messages.take(1)
    if (left < -this.abuseDebt) return false
    this.budget.hold(this, receivingBytes(this.ws))
    if (left < 0) this.pauseFor(this.messages.waitMs(), 'messages')
    return true
  }

  /** The budget has room again. */
  budgetFreed(): void {
    this.waitingForBudget = false
    this.resumeIfFree()
  }

  /**
   * The connection is closing: the socket is read again, so that the client's close frame
   * is heard (the closing handshake) — whatever else arrives is ignored by then.
   */
  closing(): void {
    this.dispose()
    this.ws.resume()
  }

  dispose(): void {
    this.closed = true
    this.stream.off('data', this.onData)
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    this.budget.release(this)
  }

  private onData = (chunk: Buffer): void => {
    if (this.closed) return
    if (this.bytes.take(chunk.byteLength) < 0) this.pauseFor(this.bytes.waitMs(), 'bytes')
    if (!this.budget.hold(this, receivingBytes(this.ws)) && !this.waitingForBudget) {
      this.waitingForBudget = true
      this.onPause('memory')
      this.ws.pause()
    }
  }

  private pauseFor(ms: number, reason: PauseReason | null): void {
    if (ms <= 0 || this.timer) return
    if (reason) this.onPause(reason)
    this.ws.pause()
    this.timer = setTimeout(() => {
      this.timer = null
      const more = Math.max(this.messages.waitMs(), this.bytes.waitMs())
      if (more > 0) this.pauseFor(more, null)
      else this.resumeIfFree()
    }, Math.min(ms, MAX_PAUSE_MS))
    this.timer.unref()
  }

  private resumeIfFree(): void {
    if (this.closed || this.paused) return
    this.ws.resume()
  }
}
