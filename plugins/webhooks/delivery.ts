/**
 * Delivery to one webhook endpoint: a bounded queue, sent one event at a time in order, each
 * retried with exponential backoff (full jitter) up to a bounded number of attempts. Nothing
 * here is awaited by a room: `push` returns at once, and when the queue is full (in events or
 * in bytes) the oldest events are dropped and counted.
 */
import { EVENT_HEADER, signature, SIGNATURE_HEADER, TIMESTAMP_HEADER } from './sign.js'

export interface DeliveryOptions {
  secret: string
  /** Events waiting per endpoint; more drop the oldest. */
  maxQueue: number
  /** Bytes of event bodies waiting per endpoint; more drop the oldest (an event is never split). */
  maxQueueBytes: number
  /** Attempts per event, the first included. */
  maxAttempts: number
  /** Backoff before retry n (1-based) is random in [0, min(maxDelayMs, baseDelayMs · 2^(n-1))]. */
  baseDelayMs: number
  maxDelayMs: number
  /** One attempt's time limit (connect, send, answer). */
  timeoutMs: number
  report: DeliveryReport
}

/** What delivery reports (metrics, logs); never throws into delivery. */
export interface DeliveryReport {
  attempt(url: string, result: 'ok' | 'retry' | 'failed', detail: { event: string; attempt: number; status?: number; error?: string }): void
  dropped(url: string, event: string): void
  queued(delta: number): void
}

export interface QueuedEvent {
  type: string
  body: string
}

export class Endpoint {
  private queue: QueuedEvent[] = []
  /** Bytes of the queued bodies. */
  private bytes = 0
  private sending = false
  private timer: NodeJS.Timeout | null = null
  private abort: AbortController | null = null
  private closed = false
  /** Events dropped because the queue was full. */
  dropped = 0

  constructor(
    readonly url: string,
    private options: DeliveryOptions,
  ) {}

  get pending(): number {
    return this.queue.length
  }

  push(event: QueuedEvent): void {
    if (this.closed) return
    const size = Buffer.byteLength(event.body)
    // The oldest are dropped, except the one being sent (it stays first until it settles).
    const at = this.sending ? 1 : 0
    while (this.queue.length > at && (this.queue.length >= this.options.maxQueue || this.bytes + size > this.options.maxQueueBytes)) {
      const [gone] = this.queue.splice(at, 1)
      this.bytes -= Buffer.byteLength(gone.body)
      this.dropped++
      this.options.report.queued(-1)
      this.options.report.dropped(this.url, gone.type)
    }
    this.queue.push(event)
    this.bytes += size
    this.options.report.queued(1)
    if (!this.sending) void this.run()
  }

  /** Stops sending: an attempt under way is aborted, queued events are discarded. */
  close(): void {
    this.closed = true
    if (this.timer) clearTimeout(this.timer)
    this.abort?.abort()
    this.options.report.queued(-this.queue.length)
    this.queue = []
    this.bytes = 0
  }

  private async run(): Promise<void> {
    this.sending = true
    try {
      while (!this.closed && this.queue.length > 0) {
        await this.deliver(this.queue[0])
        if (this.closed) return
        this.bytes -= Buffer.byteLength(this.queue.shift()!.body)
        this.options.report.queued(-1)
      }
    } finally {
      this.sending = false
    }
  }

  /** Sends one event until it is accepted or out of attempts. */
  private async deliver(event: QueuedEvent): Promise<void> {
    const { maxAttempts, report } = this.options
    for (let attempt = 1; attempt <= maxAttempts && !this.closed; attempt++) {
      const failure = await this.attempt(event)
      if (failure === null) {
        report.attempt(this.url, 'ok', { event: event.type, attempt })
        return
      }
      const last = attempt === maxAttempts
      report.attempt(this.url, last ? 'failed' : 'retry', { event: event.type, attempt, ...failure })
      if (!last) await this.sleep(this.backoff(attempt))
    }
  }

  /** One POST; null when the endpoint answered 2xx, else what went wrong. */
  private async attempt(event: QueuedEvent): Promise<{ status?: number; error?: string } | null> {
    const timestamp = Math.floor(Date.now() / 1000)
    this.abort = new AbortController()
    const timeout = setTimeout(() => this.abort?.abort(new Error(`no answer within ${this.options.timeoutMs} ms`)), this.options.timeoutMs)
    try {
      const res = await fetch(this.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'yroom-webhooks',
          [EVENT_HEADER]: event.type,
          [TIMESTAMP_HEADER]: String(timestamp),
          [SIGNATURE_HEADER]: signature(this.options.secret, timestamp, event.body),
        },
        body: event.body,
        signal: this.abort.signal,
        redirect: 'manual',
      })
      await res.body?.cancel().catch(() => undefined)
      return res.status >= 200 && res.status < 300 ? null : { status: res.status }
    } catch (err) {
      const reason = this.abort.signal.aborted ? this.abort.signal.reason : err
      return { error: reason instanceof Error ? (reason.cause instanceof Error ? `${reason.message}: ${reason.cause.message}` : reason.message) : String(reason) }
    } finally {
      clearTimeout(timeout)
    }
  }

  private backoff(attempt: number): number {
    const cap = Math.min(this.options.maxDelayMs, this.options.baseDelayMs * 2 ** (attempt - 1))
    return Math.random() * cap
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.timer = setTimeout(resolve, ms)
      this.timer.unref()
    })
  }
}
