/**
 * One Server-Sent Events stream to an inspector page. The channel is one-way by design:
 * the page holds a GET response open and the server writes events to it; nothing the page
 * could send reaches the server, so the inspector has no write path at all.
 */
import type { ServerResponse } from 'node:http'

/** Counts what inspectors cost: the tests check it stays 0 while none is open. */
export interface InspectorCounters {
  /** Events encoded for a stream (JSON.stringify of an event's data). */
  encodedEvents: number
  /** Interval timers running for inspectors (rooms watched, the room list, keepalives). */
  timers: number
}

/** A stream's write buffer past this (a page that stopped reading): the stream is closed. */
const MAX_BUFFERED = 8 * 1024 * 1024
/** A comment line this often keeps proxies from closing a quiet stream. */
const KEEPALIVE_MS = 15_000

export class EventStream {
  closed = false
  private keepalive: NodeJS.Timeout
  private keepaliveStopped = false

  constructor(
    private res: ServerResponse,
    private counters: InspectorCounters,
    onClose: () => void,
  ) {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    })
    res.write(': yroom inspector\n\n')
    this.keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS)
    this.keepalive.unref()
    counters.timers++
    res.on('close', () => {
      this.closed = true
      this.stopKeepalive()
      onClose()
    })
  }

  private stopKeepalive(): void {
    if (this.keepaliveStopped) return
    this.keepaliveStopped = true
    clearInterval(this.keepalive)
    this.counters.timers--
  }

  /** Sends one event; `data` is encoded as JSON. */
  send(event: string, data: unknown): void {
    if (this.closed) return
    this.counters.encodedEvents++
    this.res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)
    if (this.res.writableLength > MAX_BUFFERED) this.end()
  }

  end(): void {
    if (this.closed) return
    this.closed = true
    this.stopKeepalive()
    this.res.end()
  }
}
