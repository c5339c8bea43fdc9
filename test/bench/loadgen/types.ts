/** What the harness asks of the load generator process, and what it gets back. */
import type { Flavor } from '../lib/framing.js'

export interface LoadConfig {
  flavor: Flavor
  host: string
  port: number
  /** Server process id, for CPU and RSS from /proc. */
  serverPid: number
  rooms: number
  clientsPerRoom: number
  /** Writes per second per writing client. */
  hz: number
  /** Per room, clients that write only into another client's model (rejection storm). */
  offendersPerRoom: number
  warmupMs: number
  measureMs: number
  /** After the window, keep the load running this long so late deliveries still count. */
  drainMs: number
  /** Room names are `${roomPrefix}-${i}`. */
  roomPrefix: string
  /** Report, per writer, the newest of its writes that any other client received. */
  trackLastDelivered?: boolean
}

export interface Latency {
  count: number
  p50: number
  p99: number
  max: number
}

export interface LoadResult {
  clients: number
  /** Accepted-write markers written inside the measurement window. */
  writes: number
  /** Writes per second per writer actually achieved in the window. */
  writeHz: number
  expected: number
  delivered: number
  ratio: number
  deliveriesPerSec: number
  /** Write → remote receipt, ms, for deliveries of writes made in the window. */
  latency: Latency
  serverCpuSec: number
  /** The part of `serverCpuSec` spent in the kernel (socket reads and writes, polling). Absent in older results. */
  serverSystemSec?: number
  cpuPer1000: number
  serverRssMB: number
  serverPeakRssMB: number
  /** Bytes the server sent to all clients during the window (TCP payload incl. WS framing). */
  bytesOut: number
  framesIn: number
  /** Load generator's own CPU share during the window (1 = one core) and event-loop delay. */
  genCpu: number
  genLoopP99: number
  /** Cores that processes other than the server and the load generator kept busy in the window. */
  otherCpu: number
  /**
   * Rejection storm only: rejected writes and time until the offender's replica rolled back;
   * `first`: each offender's first rejected write (before it is under watch), whenever made.
   */
  rollback?: { writes: number; rolledBack: number; latency: Latency; first: Latency }
  disconnects: number
  errors: string[]
  windowSec: number
  /** Writer id → send time (µs) of its newest write another client received (trackLastDelivered). */
  lastDelivered?: Record<number, number>
}
