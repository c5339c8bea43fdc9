/**
 * One load run: connect R × N clients, create their models, write at F Hz each, and measure
 * a window in the middle of the run (warm-up before it, drain after it, load constant).
 */
import { createHistogram, monitorEventLoopDelay, type RecordableHistogram } from 'node:perf_hooks'
import { availableParallelism } from 'node:os'
import { busyCores, cpuBetween, cpuSample, cpuTimes, machineSample, memory } from '../lib/proc.js'
import { BenchClient, nowMicros, Stats } from './client.js'
import type { ClusterLoad, Latency, LoadConfig, LoadResult } from './types.js'

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
  // Offenders write into other clients' owned models, so a storm needs them.
  const shape = cfg.shape ?? (cfg.offendersPerRoom > 0 ? 'models' : 'stock')
  if (shape === 'stock' && cfg.offendersPerRoom > 0) throw new Error("offenders write into owned models: use shape 'models'")
  for (let r = 0; r < cfg.rooms; r++) {
    const roomBase = r * n
    for (let i = 0; i < n; i++) {
      const victimId = i < writers ? null : roomBase + (i % writers)
      const node = cfg.nodes ? ((cfg.spread === 'rooms' ? 0 : i) + r) % cfg.nodes.length : undefined
      const spec = { id: roomBase + i, roomBase, clientsPerRoom: n, roomName: `${cfg.roomPrefix}-${r}`, victimId, node, shape }
      clients.push(new BenchClient(spec, cfg.flavor, stats))
    }
  }
  return clients
}

async function connectAll(clients: BenchClient[], cfg: LoadConfig): Promise<void> {
  const connect = (c: BenchClient) => (cfg.nodes ? c.connect('127.0.0.1', cfg.nodes[c.spec.node!].port) : c.connect(cfg.host, cfg.port))
  let rest = clients
  if (cfg.nodes) {
    // Each room's first client alone first: its node loads the room and becomes its authority.
    const first = clients.filter((c) => c.spec.id === c.spec.roomBase)
    await Promise.all(first.map(connect))
    await until(() => first.every((c) => c.synced), 30_000, 'the first client of every room')
    rest = clients.filter((c) => c.spec.id !== c.spec.roomBase)
  }
  const batch = 25
  for (let i = 0; i < rest.length; i += batch) {
    await Promise.all(rest.slice(i, i + batch).map(connect))
  }
  await until(() => clients.every((c) => c.synced), 30_000, 'initial sync of all clients')
}

/** Per room (`${prefix}-${r}`), the index of the node that is its authority (GET /cluster), -1 if none, -2 if several. */
async function authorities(cfg: LoadConfig): Promise<number[]> {
  const held = await Promise.all(
    cfg.nodes!.map(async (n) => {
      const res = await fetch(`http://127.0.0.1:${n.port}/cluster`)
      const body = (await res.json()) as { rooms: Array<{ name: string }> }
      return new Set(body.rooms.map((r) => r.name))
    }),
  )
  return Array.from({ length: cfg.rooms }, (_, r) => {
    const at = held.flatMap((names, i) => (names.has(`${cfg.roomPrefix}-${r}`) ? [i] : []))
    return at.length === 1 ? at[0] : at.length === 0 ? -1 : -2
  })
}

export async function runLoad(cfg: LoadConfig): Promise<LoadResult> {
  const stats = new Stats()
  const clients = makeClients(cfg, stats)
  const writers = clients.filter((c) => !c.offender)
  const offenders = clients.filter((c) => c.offender)
  try {
    await connectAll(clients, cfg)
    let authority: number[] = []
    if (cfg.nodes) {
      authority = await authorities(cfg)
      const on = new Int8Array(clients.length).fill(-1)
      for (const c of clients) {
        const a = authority[c.spec.roomBase / cfg.clientsPerRoom]
        if (a >= 0) on[c.spec.id] = c.spec.node === a ? 1 : 0
      }
      stats.onAuthority = on
      if (authority.some((a) => a < 0)) stats.errors.add(`rooms without exactly one authority after joining: ${authority.join(', ')}`)
    }
    for (const c of writers) c.createModel()
    if (offenders.length > 0) await until(() => offenders.every((c) => c.hasVictim()), 30_000, 'victim models at offenders')
    for (const c of clients) c.start(cfg.hz)
    await sleep(cfg.warmupMs)

    const loop = monitorEventLoopDelay({ resolution: 5 })
    const bytes = () => clients.reduce((n, c) => n + c.bytesIn, 0)
    const machine0 = machineSample()
    const pids = cfg.nodes ? cfg.nodes.map((n) => n.pid) : [cfg.serverPid]
    const cpu0 = pids.map(cpuTimes)
    const watch0 = (cfg.watch ?? []).map((w) => cpuSample([w.pid], w.children))
    const gen0 = process.cpuUsage()
    const bytes0 = bytes()
    const frames0 = stats.framesIn
    const start = performance.now()
    stats.t0 = nowMicros()
    loop.enable()
    await sleep(cfg.measureMs)
    stats.t1 = nowMicros()
    const windowSec = (performance.now() - start) / 1000
    const cpu1 = pids.map(cpuTimes)
    const watch1 = (cfg.watch ?? []).map((w) => cpuSample([w.pid], w.children))
    const nodeCpuSec = pids.map((_, i) => cpu1[i].user + cpu1[i].system - (cpu0[i].user + cpu0[i].system))
    const serverCpuSec = nodeCpuSec.reduce((a, b) => a + b, 0)
    const serverSystemSec = pids.reduce((n, _, i) => n + cpu1[i].system - cpu0[i].system, 0)
    const gen = process.cpuUsage(gen0)
    const machineBusy = busyCores(machine0, machineSample(), availableParallelism())
    const bytesOut = bytes() - bytes0
    const framesIn = stats.framesIn - frames0
    const mems = pids.map(memory)
    const mem = { rssMB: mems.reduce((n, m) => n + m.rssMB, 0), hwmMB: mems.reduce((n, m) => n + m.hwmMB, 0) }
    loop.disable()
    const authorityAfter = cfg.nodes ? await authorities(cfg) : []
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
    let cluster: ClusterLoad | undefined
    if (cfg.nodes) {
      if (authorityAfter.join() !== authority.join()) stats.errors.add(`a room changed its authority during the run: ${authority.join(', ')} → ${authorityAfter.join(', ')}`)
      const merged = (paths: number[]) => {
        const h = createHistogram()
        for (const p of paths) h.add(stats.pathLatency[p])
        return latencyOf(h)
      }
      cluster = {
        authority,
        authorityAfter,
        nodeCpuSec,
        atAuthority: merged([0, 2]),
        atRelay: merged([1, 3]),
        paths: stats.pathLatency.map(latencyOf),
      }
    }
    const watchedCpuSec = cfg.watch ? Object.fromEntries(cfg.watch.map((w, i) => [w.name, cpuBetween(watch0[i], watch1[i])])) : undefined
    const watchedTotal = Object.values(watchedCpuSec ?? {}).reduce((a, b) => a + b, 0)
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
      // The watched processes (Redis, PostgreSQL) serve the servers under test: not "other load".
      otherCpu: Math.max(0, machineBusy - (serverCpuSec + watchedTotal) / windowSec - (gen.user + gen.system) / 1e6 / windowSec),
      rollback,
      disconnects: stats.disconnects,
      errors: [...stats.errors],
      windowSec,
      lastDelivered,
      cluster,
      watchedCpuSec,
    }
  } finally {
    stats.stopping = true
    for (const c of clients) c.close()
  }
}
