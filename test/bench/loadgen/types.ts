/** What the harness asks of the load generator process, and what it gets back. */
import type { Flavor } from '../lib/framing.js'

/** What the load generator's clients send (client.ts explains both). */
export type LoadShape = 'stock' | 'stock-bytes' | 'models'

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
  /** Per room, clients that write only into another client's model (rejection storm; needs shape 'models'). */
  offendersPerRoom: number
  /** What the clients send (client.ts): stock clients (default) or owned models. */
  shape?: LoadShape
  warmupMs: number
  measureMs: number
  /** After the window, keep the load running this long so late deliveries still count. */
  drainMs: number
  /** Room names are `${roomPrefix}-${i}`. */
  roomPrefix: string
  /** Report, per writer, the newest of its writes that any other client received. */
  trackLastDelivered?: boolean
  /**
   * Cluster mode: the nodes the clients are spread over (`host`, `port` and `serverPid` are
   * then unused). Client i of room r connects to node (i + r) mod nodes, so each room has
   * half its clients on each of two nodes; the room's client 0 joins first, alone, so that
   * node r mod nodes becomes its authority. Server CPU and RSS are the nodes' sums.
   */
  nodes?: ClusterNode[]
  /** With `nodes`: 'rooms' puts all of room r's clients on node r mod nodes instead (no relaying). */
  spread?: 'clients' | 'rooms'
  /** Processes whose CPU in the window is reported apart (Redis, PostgreSQL), not as server CPU. */
  watch?: WatchedProcess[]
}

export interface ClusterNode {
  port: number
  pid: number
}

export interface WatchedProcess {
  name: string
  pid: number
  /** Count its child processes too (PostgreSQL's backends). */
  children?: boolean
}

/** Delivery paths in a cluster, by where the writer and the receiver are connected. */
export const PATHS = ['authority → authority', 'authority → relay', 'relay → authority', 'relay → relay'] as const

export interface ClusterLoad {
  /** Per room, the node (index) that was its authority after the clients joined (GET /cluster); -1: none. */
  authority: number[]
  /** The same at the end of the window: a room that moved makes the path latencies unreliable. */
  authorityAfter: number[]
  /** Each node's CPU seconds in the window. */
  nodeCpuSec: number[]
  /** Latency by the receiver's node: the room's authority, or a node that relays it. */
  atAuthority: Latency
  atRelay: Latency
  /** Latency by path (PATHS: writer's node → receiver's node). */
  paths: Latency[]
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
  /** Cluster mode (LoadConfig.nodes). */
  cluster?: ClusterLoad
  /** CPU seconds of the watched processes in the window, by name. */
  watchedCpuSec?: Record<string, number>
}
