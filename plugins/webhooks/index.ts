/**
 * The webhooks plugin: POSTs signed JSON events about rooms to HTTP endpoints (SPEC-free,
 * issue 26). Events are queued per endpoint and delivered in the background (delivery.ts):
 * a slow or failing endpoint never holds a room up; it is logged and counted in /metrics.
 * `createServer({ webhooks, webhookSecret })` adds it; the plugin is usable on its own too.
 *
 * Events: room.loaded, room.unloaded, room.stored, client.joined, client.left,
 * ownership.changed, update.rejected, action.applied, action.refused.
 */
import { randomUUID } from 'node:crypto'
import type { Logger } from '../../server/logger.js'
import type { Metrics } from '../../server/metrics.js'
import type { Connection } from '../../server/transport/connection.js'
import type { RoomHandle, YroomPlugin } from '../../server/plugin.js'
import { Endpoint, type DeliveryReport } from './delivery.js'
import { watchOwnership } from './ownership.js'

export { verifySignature, signature, SIGNATURE_HEADER, TIMESTAMP_HEADER, EVENT_HEADER } from './sign.js'

export interface WebhooksPluginOptions {
  /** Endpoints; each gets every event. */
  urls: readonly string[]
  /** HMAC-SHA256 secret the bodies are signed with. */
  secret: string
  /** Events waiting per endpoint before the oldest is dropped. Default 1000. */
  maxQueue?: number
  /** Bytes of event bodies waiting per endpoint before the oldest are dropped. Default 16 MiB. */
  maxQueueBytes?: number
  /** Attempts per event, the first included. Default 8. */
  maxAttempts?: number
  /** Backoff base and cap, ms. Defaults 500 and 60 000. */
  baseDelayMs?: number
  maxDelayMs?: number
  /** One attempt's time limit, ms. Default 10 000. */
  timeoutMs?: number
  /** For the `yroom_webhook_*` metrics. */
  metrics?: Metrics
  logger?: Logger
}

/** One event as POSTed (the JSON body). */
export interface WebhookEvent {
  id: string
  type: string
  /** ISO 8601. */
  time: string
  room: string
  data: Record<string, unknown>
}

export interface WebhooksPlugin extends YroomPlugin {
  /** Queues an event for every endpoint. */
  emit(room: string, type: string, data: Record<string, unknown>): void
  /** Events waiting (all endpoints) and events dropped so far. */
  readonly pending: number
  readonly dropped: number
  /**
   * Stops delivery (server shutdown): waits up to `drainMs` for the queued events (the last
   * rooms' `room.unloaded` among them) to be delivered, then discards what is left.
   */
  close(drainMs?: number): Promise<void>
}

const STATE = 'webhooks'

function connectionData(conn: Connection): Record<string, unknown> {
  return { connection: conn.id, principal: conn.principal.id, anonymous: conn.principal.anonymous === true }
}

/** An endpoint as logged: without credentials or query string (where hook URLs often keep a token). */
export function loggedUrl(url: string): string {
  try {
    const u = new URL(url)
    return `${u.protocol}//${u.host}${u.pathname}${u.search ? '?…' : ''}`
  } catch {
    return '(unparsable URL)'
  }
}

function report(metrics: Metrics | undefined, logger: Logger | undefined): DeliveryReport {
  return {
    attempt(url, result, detail) {
      metrics?.webhookDeliveries.inc({ result })
      if (result === 'retry') logger?.warn({ url: loggedUrl(url), ...detail }, 'webhook delivery failed; retrying')
      else if (result === 'failed') logger?.error({ url: loggedUrl(url), ...detail }, 'webhook delivery failed; event given up')
    },
    dropped(url, event) {
      metrics?.webhookDropped.inc()
      logger?.warn({ url: loggedUrl(url), event }, 'webhook queue full: oldest event dropped')
    },
    queued(delta) {
      metrics?.webhookQueue.inc(delta)
    },
  }
}

export function webhooksPlugin(options: WebhooksPluginOptions): WebhooksPlugin {
  if (!options.secret) throw new Error('webhooks need a secret to sign their events with (webhookSecret, --webhook-secret)')
  for (const url of options.urls) {
    if (!/^https?:\/\//i.test(url)) throw new Error(`webhook URL must be http:// or https://, got ${JSON.stringify(url)}`)
    // fetch refuses them on every attempt, quoting the URL (credentials included) in its error.
    if (URL.canParse(url) && (new URL(url).username !== '' || new URL(url).password !== '')) {
      throw new Error(`webhook URL must not hold credentials (user:password@), got ${loggedUrl(url)}; the signature authenticates the events`)
    }
  }
  const delivery = {
    secret: options.secret,
    maxQueue: options.maxQueue ?? 1000,
    maxQueueBytes: options.maxQueueBytes ?? 16 * 1024 * 1024,
    maxAttempts: options.maxAttempts ?? 8,
    baseDelayMs: options.baseDelayMs ?? 500,
    maxDelayMs: options.maxDelayMs ?? 60_000,
    timeoutMs: options.timeoutMs ?? 10_000,
    report: report(options.metrics, options.logger),
  }
  const endpoints = options.urls.map((url) => new Endpoint(url, delivery))

  function emit(room: string, type: string, data: Record<string, unknown>): void {
    if (endpoints.length === 0) return
    const event: WebhookEvent = { id: randomUUID(), type, time: new Date().toISOString(), room, data }
    const body = JSON.stringify(event)
    for (const e of endpoints) e.push({ type, body })
  }

  return {
    name: 'webhooks',
    emit,
    get pending() {
      return endpoints.reduce((n, e) => n + e.pending, 0)
    },
    get dropped() {
      return endpoints.reduce((n, e) => n + e.dropped, 0)
    },
    async close(drainMs = 0) {
      const deadline = Date.now() + drainMs
      while (endpoints.some((e) => e.pending > 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
      for (const e of endpoints) e.close()
    },
    onLoad(room) {
      // Passes events on to a service another plugin installed before (the inspector's).
      const next = room.services.events
      room.services.events = {
        emit: (type, data) => {
          next?.emit(type, data)
          emit(room.name, type, data)
        },
      }
      const stop = watchOwnership(room.doc, (c) => emit(room.name, 'ownership.changed', { ...c }))
      room.pluginState.set(STATE, stop)
      emit(room.name, 'room.loaded', {})
    },
    onUnload(room) {
      ;(room.pluginState.get(STATE) as (() => void) | undefined)?.()
      emit(room.name, 'room.unloaded', {})
    },
    onConnect({ room, connection }) {
      emit(room.name, 'client.joined', connectionData(connection))
    },
    onDisconnect({ room, connection }) {
      emit(room.name, 'client.left', { ...connectionData(connection), clientIds: clientIdsOf(room, connection) })
    },
    afterApply({ room, connection, rejections }) {
      if (rejections.length === 0) return
      emit(room.name, 'update.rejected', { ...connectionData(connection), rejections: rejections.map((r) => ({ ...r })) })
    },
    onStored(room, seq) {
      emit(room.name, 'room.stored', { seq })
    },
  }
}

/** The Yjs client ids the connection wrote under (its announced one and those the authority bound to it). */
function clientIdsOf(room: RoomHandle, conn: Connection): number[] {
  const ids = new Set(room.services.identity?.idsLeftBy(conn.id) ?? [])
  if (conn.announcedClientID !== null) ids.add(conn.announcedClientID)
  return [...ids]
}
