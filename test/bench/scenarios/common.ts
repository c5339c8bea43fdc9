/** Settings of a benchmark run (quick or full) and the "start a server, load it, stop it" step. */
import { availableParallelism } from 'node:os'
import { runLoadgen } from '../lib/loadgen.js'
import { busyCores, machineSample } from '../lib/proc.js'
import type { LoadConfig, LoadResult, LoadShape } from '../loadgen/types.js'
import { startServer, type RunningServer, type ServerId, type StartOptions } from '../servers/servers.js'

export interface Window {
  warmupMs: number
  measureMs: number
  drainMs: number
}

export interface Settings {
  quick: boolean
  /** Standard load (scenarios 1, 3, 4, 6). */
  standard: { rooms: number; clientsPerRoom: number; hz: number } & Window
  /** Extra authority on/off pairs after scenario 1's (noise control). */
  authorityPairs: number
  /** Extra yroom / Hocuspocus pairs for the CPU target (noise control). */
  cpuPairs: number
  capacity: { steps: number[]; refine: boolean; retry: boolean } & Window
  rejection: { offendersPerRoom: number }
  cold: { models: number; updates: number; trials: number }
  storage: { appendSeconds: number }
  memory: { rooms: number; models: number }
  /**
   * Scenario 8, cluster: `loadRounds` rounds of the standard load against one node, two nodes
   * sharing the rooms and two nodes splitting them, taking turns; `failoverRounds` kill -9s
   * of a room's authority; every node with `--lease-ms`. Absent in reports from before it.
   */
  cluster: {
    loadRounds: number
    failoverRounds: number
    leaseMs: number
    failoverClients: number
    failoverHz: number
    /** Warm-up of each load run (all kinds): two nodes each see half the calls, so their code is compiled later. */
    warmupMs: number
  }
  /** Before each load run, wait up to `maxWaitMs` for other processes to use < `maxBusyCores` (shared machine). */
  quiet: { maxBusyCores: number; maxWaitMs: number; budgetMs: number }
}

export function settings(quick: boolean): Settings {
  const std = { rooms: 4, clientsPerRoom: 50, hz: 20 }
  return quick
    ? {
        quick,
        standard: { ...std, warmupMs: 500, measureMs: 1200, drainMs: 500 },
        authorityPairs: 0,
        cpuPairs: 0,
        capacity: { steps: [2, 8], refine: false, retry: false, warmupMs: 500, measureMs: 1000, drainMs: 500 },
        rejection: { offendersPerRoom: 10 },
        cold: { models: 500, updates: 3000, trials: 1 },
        storage: { appendSeconds: 0.5 },
        memory: { rooms: 100, models: 100 },
        cluster: { loadRounds: 1, failoverRounds: 3, leaseMs: 2000, failoverClients: 10, failoverHz: 20, warmupMs: 500 },
        quiet: { maxBusyCores: 0.5, maxWaitMs: 0, budgetMs: 0 },
      }
    : {
        quick,
        standard: { ...std, warmupMs: 2000, measureMs: 8000, drainMs: 1500 },
        authorityPairs: 2,
        cpuPairs: 2,
        capacity: {
          steps: [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48],
          refine: true,
          retry: true,
          warmupMs: 1500,
          measureMs: 3000,
          drainMs: 1000,
        },
        rejection: { offendersPerRoom: 10 },
        cold: { models: 10_000, updates: 100_000, trials: 5 },
        storage: { appendSeconds: 3 },
        memory: { rooms: 1000, models: 100 },
        cluster: { loadRounds: 3, failoverRounds: 8, leaseMs: 2000, failoverClients: 10, failoverHz: 20, warmupMs: 8000 },
        quiet: { maxBusyCores: 0.5, maxWaitMs: 20_000, budgetMs: 120_000 },
      }
}

export interface Load {
  rooms: number
  clientsPerRoom: number
  hz: number
  offendersPerRoom?: number
  /** Default 'stock', or 'models' with offenders (loadgen/client.ts). */
  shape?: LoadShape
}

let runCounter = 0
let quietWaitedMs = 0

/** Total time spent waiting for a quiet machine in this run. */
export const quietWaited = (): number => quietWaitedMs

/**
 * Waits (within the run's budget) until other processes keep less than `maxBusyCores` busy,
 * so a measured window does not start in the middle of someone else's CPU burst.
 * Returns the busy cores seen last.
 */
export async function waitForQuiet(s: Settings): Promise<number> {
  if (s.quiet.maxWaitMs === 0) return 0
  const started = Date.now()
  for (;;) {
    const a = machineSample()
    await new Promise((r) => setTimeout(r, 500))
    const busy = busyCores(a, machineSample(), availableParallelism())
    const waited = Date.now() - started
    if (busy <= s.quiet.maxBusyCores || waited >= s.quiet.maxWaitMs || quietWaitedMs + waited >= s.quiet.budgetMs) {
      quietWaitedMs += waited
      if (busy > s.quiet.maxBusyCores) log(`  machine busy (${busy.toFixed(2)} cores used by others); running anyway`)
      return busy
    }
  }
}

function loadConfig(server: RunningServer, load: Load, window: Window): LoadConfig {
  return {
    flavor: server.spec.flavor,
    host: '127.0.0.1',
    port: server.port,
    serverPid: server.pid,
    rooms: load.rooms,
    clientsPerRoom: load.clientsPerRoom,
    hz: load.hz,
    offendersPerRoom: load.offendersPerRoom ?? 0,
    shape: load.shape,
    ...window,
    roomPrefix: `bench${++runCounter}`,
  }
}

/** Starts `id` fresh, runs one load against it, stops it. */
export async function measure(id: ServerId, load: Load, window: Window, s: Settings, start: StartOptions = {}): Promise<LoadResult> {
  await waitForQuiet(s)
  const server = await startServer(id, start)
  try {
    return await runLoadgen(loadConfig(server, load, window))
  } finally {
    await server.stop()
  }
}

/**
 * Starts the servers fresh and loads them all at the same time, one load generator each;
 * results in the order given. Side by side, every server sees the same machine, so their
 * ratio does not depend on how busy the shared machine was at one moment (runs one after
 * the other swing by a third within minutes). Each result's "other load" leaves out its
 * partners' servers and generators.
 */
export async function measureSideBySide(starters: Array<() => Promise<RunningServer>>, load: Load, window: Window, s: Settings): Promise<LoadResult[]> {
  await waitForQuiet(s)
  const servers: RunningServer[] = []
  try {
    for (const start of starters) servers.push(await start())
    const results = await Promise.all(servers.map((server) => runLoadgen(loadConfig(server, load, window))))
    const own = results.map((r) => r.serverCpuSec / r.windowSec + r.genCpu)
    const all = own.reduce((a, b) => a + b, 0)
    return results.map((r, i) => ({ ...r, otherCpu: Math.max(0, r.otherCpu - (all - own[i])) }))
  } finally {
    for (const server of servers) await server.stop()
  }
}

export function log(msg: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`)
}

/** A figure for the log; 'n/a' for a missing one (NaN arrives from the generator's JSON as null: no latency samples). */
const fx = (n: number | null | undefined, d: number) => (typeof n === 'number' && Number.isFinite(n) ? n.toFixed(d) : 'n/a')

export function brief(r: LoadResult): string {
  return (
    `${fx(r.deliveriesPerSec / 1000, 1)}k del/s, ratio ${fx(r.ratio * 100, 2)}%, ` +
    `p50 ${fx(r.latency.p50, 1)} p99 ${fx(r.latency.p99, 1)} ms, cpu/1k ${fx(r.cpuPer1000 * 1000, 2)} ms, ` +
    `server ${fx((r.serverCpuSec / r.windowSec) * 100, 0)}%, gen ${fx(r.genCpu * 100, 0)}% (loop p99 ${fx(r.genLoopP99, 0)} ms), others ${fx(r.otherCpu, 2)} cores` +
    (r.errors.length ? `, errors: ${r.errors.join('; ')}` : '')
  )
}
