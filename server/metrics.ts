/** Prometheus metrics (prom-client), one registry per server so several servers can share a process. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

/**
 * A counter bumped once or twice per message: a plain addition, moved into its prom-client
 * counter when metrics are read. prom-client's own `inc` validates and allocates on every
 * call, which at tens of thousands of messages a second is measurable.
 */
export class HotCounter {
  private pending = 0
  private collected = 0
  readonly counter: Counter

  constructor(name: string, help: string, registry: Registry) {
    const hot = this
    this.counter = new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        if (hot.pending === 0) return
        this.inc(hot.pending)
        hot.collected += hot.pending
        hot.pending = 0
      },
    })
  }

  inc(n = 1): void {
    this.pending += n
  }

  /** The count so far, without a scrape. */
  get value(): number {
    return this.collected + this.pending
  }

  get(): ReturnType<Counter['get']> {
    return this.counter.get()
  }
}

export class Metrics {
  readonly registry = new Registry()
  readonly roomsLoaded = new Gauge({ name: 'yroom_rooms_loaded', help: 'Rooms currently loaded', registers: [this.registry] })
  /** Room leases held on shared storage (set by the server: see watchLeases). */
  readonly leasesHeld = new Gauge({ name: 'yroom_room_leases_held', help: 'Rooms whose write lease this server holds (shared storage)', registers: [this.registry] })
  readonly relayed = new Counter({
    name: 'yroom_cluster_relayed_total',
    help: 'Cluster mode: entries relayed between nodes (out: this node\'s clients to an authority; in: handled as authority)',
    labelNames: ['direction'] as const,
    registers: [this.registry],
  })
  readonly takeoverSeconds = new Histogram({
    name: 'yroom_cluster_takeover_seconds',
    help: 'Cluster mode: time to take a room over (load, members, replay of unstored input)',
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  })
  readonly leaseRenewals = new Gauge({ name: 'yroom_room_lease_renewals', help: 'Renewals of all held leases (one statement each) since the start (shared storage)', registers: [this.registry] })
  readonly leaseLosses = new Counter({ name: 'yroom_room_lease_losses_total', help: 'Rooms whose lease this server lost (another server writes them now)', registers: [this.registry] })
  readonly connections = new Gauge({ name: 'yroom_connections', help: 'Open client connections', registers: [this.registry] })
  readonly updatesIn = new HotCounter('yroom_updates_in_total', 'Document updates received from clients', this.registry)
  readonly updatesOut = new Counter({ name: 'yroom_broadcasts_total', help: 'Batched update messages sent to clients', registers: [this.registry] })
  readonly messagesOut = new HotCounter('yroom_messages_out_total', 'Messages sent to clients', this.registry)
  readonly bytesIn = new HotCounter('yroom_bytes_in_total', 'Bytes received from clients', this.registry)
  readonly bytesOut = new HotCounter('yroom_bytes_out_total', 'Bytes sent to clients', this.registry)
  readonly rejectedMessages = new Counter({
    name: 'yroom_rejected_messages_total',
    help: 'Messages refused whole (malformed, oversize, identity, rate)',
    labelNames: ['reason'],
    registers: [this.registry],
  })
  readonly inboundPauses = new Counter({
    name: 'yroom_inbound_pauses_total',
    help: 'Times a connection was not read for a while (backpressure): over its message or byte rate, or waiting for the memory of large messages',
    labelNames: ['reason'],
    registers: [this.registry],
  })
  readonly rejectedChanges = new Counter({
    name: 'yroom_rejected_changes_total',
    help: 'Changes rejected and compensated',
    labelNames: ['reason'],
    registers: [this.registry],
  })
  readonly roomFailures = new Counter({
    name: 'yroom_room_failures_total',
    help: 'Rooms dropped and reloaded from storage after an internal error (the safety net; 0 in a healthy server)',
    registers: [this.registry],
  })
  readonly updateBatchSize = new Histogram({
    name: 'yroom_update_batch_size',
    help: 'Client updates applied together in one transaction (those that waited for the same tick or applyDelayMs)',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
    registers: [this.registry],
  })
  readonly storageWriteSeconds = new Histogram({
    name: 'yroom_storage_write_seconds',
    help: 'Latency of one batched storage append',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  })

  readonly apiRequests = new Counter({
    name: 'yroom_api_requests_total',
    help: 'HTTP API requests answered, by route and status code',
    labelNames: ['route', 'status'] as const,
    registers: [this.registry],
  })
  readonly webhookDeliveries = new Counter({
    name: 'yroom_webhook_deliveries_total',
    help: 'Webhook delivery attempts (ok: 2xx; retry: failed, will be retried; failed: failed, out of attempts)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  })
  readonly webhookDropped = new Counter({
    name: 'yroom_webhook_dropped_total',
    help: 'Webhook events dropped, oldest first, because the delivery queue was full',
    registers: [this.registry],
  })
  readonly webhookQueue = new Gauge({ name: 'yroom_webhook_queue', help: 'Webhook events waiting for delivery (all endpoints)', registers: [this.registry] })

  constructor(defaultMetrics: boolean) {
    if (defaultMetrics) collectDefaultMetrics({ register: this.registry })
  }
}
