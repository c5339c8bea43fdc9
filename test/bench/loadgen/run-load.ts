/**
 * One load run: connect R × N clients, create their models, write at F Hz each, and measure
 * a window in the middle of the run (warm-up before it, drain after it, load constant).
 */
import { monitorEventLoopDelay, type RecordableHistogram } from 'node:perf_hooks'
import { availableParallelism } from 'node:os'
import { busyCores, cpuTimes, machineSample, memory } from '../lib/proc.js'
import { BenchClient, nowMicros, Stats } from './client.js'
import type { Latency, LoadConfig, LoadResult } from './types.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > end) throw new Error(`load generator: timed out waiting for ${what}`)
    await sleep(10)
  }
}

function latencyOf(h: RecordableHistogram): Latency {
  if (h.count === 0) return { count: 0, p50: NaN, p99: NaN, max: NaN }
  return { count: h.count, p50: h.percentile(50) / 1000, p99: h.percentile(99) / 1000, max: h.max / 1000 }
}

function makeClients(cfg: LoadConfig, stats: Stats): BenchClient[] {
  const clients: BenchClient[] = []
  const n = cfg.clientsPerRoom
  const writers = n - cfg.offendersPerRoom
  for (let r = 0; r < cfg.rooms; r++) {
    const roomBase = r * n
    for (let i = 0; i < n; i++) {
      const victimId = i < writers ? null : roomBase + (i % writers)
      const spec = { id: roomBase + i, roomBase, clientsPerRoom: n, roomName: `${cfg.roomPrefix}-${r}`, victimId }
      clients.push(new BenchClient(spec, cfg.flavor, stats))
    }
  }
  return clients
}

async function connectAll(clients: BenchClient[], cfg: LoadConfig): Promise<void> {
  const batch = 25
  for (let i = 0; i < clients.length; i += batch) {
    await Promise.all(clients.slice(i, i + batch).map((c) => c.connect(cfg.host, cfg.port)))
  }
  await until(() => clients.every((c) => c.synced), 30_000, 'initial sync of all clients')
}

export async function runLoad(cfg: LoadConfig): Promise<LoadResult> {
  const stats = new Stats()
  const clients = makeClients(cfg, stats)
  const writers = clients.filter((c) => !c.offender)
  const offenders = clients.filter((c) => c.offender)
  try {
    await connectAll(clients, cfg)
    for (const c of writers) c.createModel()
    if (offenders.length > 0) await until(() => offenders.every((c) => c.hasVictim()), 30_000, 'victim models at offenders')
    for (const c of clients) c.start(cfg.hz)
    await sleep(cfg.warmupMs)

    const loop = monitorEventLoopDelay({ resolution: 5 })
    const bytes = () => clients.reduce((n, c) => n + c.bytesIn, 0)
    const machine0 = machineSample()
    const cpu0 = cpuTimes(cfg.serverPid)
    const gen0 = process.cpuUsage()
    const bytes0 = bytes()
    const frames0 = stats.framesIn
    const start = performance.now()
    stats.t0 = nowMicros()
    loop.enable()
    await sleep(cfg.measureMs)
    stats.t1 = nowMicros()
    const windowSec = (performance.now() - start) / 1000
    const cpu1 = cpuTimes(cfg.serverPid)
    const serverCpuSec = cpu1.user + cpu1.system - (cpu0.user + cpu0.system)
    const serverSystemSec = cpu1.system - cpu0.system
    const gen = process.cpuUsage(gen0)
    const machineBusy = busyCores(machine0, machineSample(), availableParallelism())
    const bytesOut = bytes() - bytes0
    const framesIn = stats.framesIn - frames0
    const mem = memory(cfg.serverPid)
    loop.disable()
    await sleep(cfg.drainMs)
    stats.stopping = true

    const n = cfg.clientsPerRoom
    const expected = stats.writes * (n - 1)
    const rollback =
      offenders.length > 0
        ? {
            writes: stats.rejectedWrites,
            rolledBack: stats.rolledBack,
            latency: latencyOf(stats.rollbackLatency),
            first: latencyOf(stats.firstRollbackLatency),
          }
        : undefined
    let lastDelivered: Record<number, number> | undefined
    if (cfg.trackLastDelivered) {
      lastDelivered = {}
      for (const w of writers) {
        const local = w.spec.id - w.spec.roomBase
        let max = -1
        for (const c of clients) if (c.spec.roomBase === w.spec.roomBase) max = Math.max(max, c.lastSeenOf(local))
        lastDelivered[w.spec.id] = max
      }
    }
    if (stats.foreign > 0) stats.errors.add(`${stats.foreign} markers from another room were received`)
    return {
      clients: clients.length,
      writes: stats.writes,
      writeHz: stats.writes / windowSec / writers.length,
      expected,
      delivered: stats.delivered,
      ratio: expected > 0 ? stats.delivered / expected : NaN,
      deliveriesPerSec: stats.delivered / windowSec,
      latency: latencyOf(stats.latency),
      serverCpuSec,
      serverSystemSec,
      cpuPer1000: stats.delivered > 0 ? serverCpuSec / (stats.delivered / 1000) : NaN,
      serverRssMB: mem.rssMB,
      serverPeakRssMB: mem.hwmMB,
      bytesOut,
      framesIn,
      genCpu: (gen.user + gen.system) / 1e6 / windowSec,
      genLoopP99: loop.percentile(99) / 1e6,
      otherCpu: Math.max(0, machineBusy - serverCpuSec / windowSec - (gen.user + gen.system) / 1e6 / windowSec),
      rollback,
      disconnects: stats.disconnects,
      errors: [...stats.errors],
      windowSec,
      lastDelivered,
    }
  } finally {
    stats.stopping = true
    for (const c of clients) c.close()
  }
}
