/** Renders BENCHMARKS.md from the results of one run. */
import type { LoadResult } from '../loadgen/types.js'
import type { AuthorityResult, CpuVsHocuspocus, FanoutResult } from '../scenarios/fanout.js'
import { cpuPer1000, FANOUT_SERVERS } from '../scenarios/fanout.js'
import type { CapacityResult } from '../scenarios/capacity.js'
import { CONTENDED_CORES, MAX_P99_MS, MIN_RATIO, contended, generatorSaturated, limitedByGenerator, serverSaturated } from '../scenarios/capacity.js'
import type { ColdLoadResult, Timing } from '../scenarios/coldload.js'
import type { StorageResult } from '../scenarios/storage.js'
import { rollbackMet } from '../scenarios/rejection.js'
import type { MemoryResult } from '../scenarios/memory.js'
import { CLUSTER_CPU_TARGET, percentile, type ClusterResult } from '../scenarios/cluster.js'
import { PATHS } from '../loadgen/types.js'
import type { Settings } from '../scenarios/common.js'
import type { HotFunction } from '../lib/profile.js'
import { SERVERS, yroomNodeFlags } from '../servers/servers.js'
import type { B4Result } from '../scenarios/b4.js'
import { b4Section, b4Targets } from './b4.js'

export interface Machine {
  cpu: string
  cores: number
  memGB: number
  os: string
  node: string
  loadStart: number[]
  loadEnd: number[]
}

export interface ProfileSummary {
  title: string
  note: string
  busyMs: number
  top: HotFunction[]
}

export interface BenchReport {
  quick: boolean
  command: string
  date: string
  durationSec: number
  /** Time spent waiting for other processes to calm down before measured runs. */
  quietWaitSec?: number
  machine: Machine
  commit: string
  versions: Record<string, string>
  settings: Settings
  tickMs: number
  fanout?: FanoutResult
  /** yroom vs Hocuspocus CPU over several interleaved runs (absent in older reports). */
  cpu?: CpuVsHocuspocus
  authority?: AuthorityResult
  capacity?: CapacityResult[]
  rejection?: LoadResult
  /** Rejection-storm attempts before `rejection` that missed the target (repeated, as capacity steps are). */
  rejectionEarlier?: LoadResult[]
  cold?: ColdLoadResult
  storage?: StorageResult
  memory?: MemoryResult
  /** Scenario 8 (absent in reports from before it). */
  cluster?: ClusterResult
  /** Why scenario 8 was not measured (PostgreSQL or redis-server missing). */
  clusterSkipped?: string
  /** Scenario 9, the B4 editing trace (absent in reports from before it). */
  b4?: B4Result
  profiles: ProfileSummary[]
  chartPath: string | null
  failures: string[]
  /** Scenarios measured again later and merged into this report (`--only N --merge FILE`). */
  remeasured?: Array<{ scenarios: number[]; command: string; date: string; commit: string; durationSec: number; loadStart: number[]; loadEnd: number[] }>
}

export interface TargetRow {
  target: string
  measured: string
  met: boolean | null
}

const f = (n: number | null | undefined, d = 1) => (n === null || n === undefined || !Number.isFinite(n) ? 'n/a' : n.toFixed(d))
const pct = (r: number) => (Number.isFinite(r) ? `${(r * 100).toFixed(2)}%` : 'n/a')
const k = (n: number) => (Number.isFinite(n) ? `${(n / 1000).toFixed(1)}k` : 'n/a')
const yes = (m: boolean | null) => (m === null ? '—' : m ? '✅ met' : '❌ **missed**')
const timing = (t: Timing) =>
  t.medianMs !== null ? `${f(t.medianMs, 1)} ms` : t.timedOutAfterMs !== null ? `> ${f(t.timedOutAfterMs / 1000, 0)} s (stopped)` : 'not run'

/**
 * The forwarding floor against the servers: how much of each one's CPU the transport alone
 * takes (Node, ws, loopback TCP), and how much is document work above it.
 */
function floorNote(cpu: CpuVsHocuspocus): string {
  const fl = cpu.floor!
  const floor = fl.cpuPer1000
  const y = cpuPer1000(cpu.yroom)
  const h = cpuPer1000(cpu.hocuspocus)
  const kernel = (r: LoadResult) => (r.serverSystemSec === undefined ? '' : `, ${f((r.serverSystemSec / r.serverCpuSec) * 100, 0)}% of it in the kernel`)
  return (
    `For reference, the **forwarding floor** (\`test/bench/servers/floor.mjs\`, not a Yjs server): the same traffic carried the way yroom carries it ` +
    `(ws for receiving, one frame per client per 50 ms tick written to the socket) with no document, checks or storage. ` +
    `It used ${f(floor * 1000, 3)} ms per 1,000 deliveries${kernel(fl)} (delivered ${pct(fl.ratio)}). ` +
    `yroom (pooled above) used ${f(y / floor, 2)} × that, Hocuspocus ${f(h / floor, 2)} ×. ` +
    `What yroom spends above the floor, ${f((y - floor) * 1000, 3)} ms per 1,000 deliveries, is its document work: Yjs applying each update, judging, the update checks and the tick merge. ` +
    `At ≤ 0.25 × Hocuspocus, yroom may spend at most ${f((0.25 * h - floor) * 1000, 3)} ms above the floor in this run.`
  )
}

const plus = (n: number) => (Number.isFinite(n) ? `${n >= 0 ? '+' : '−'}${Math.abs(n).toFixed(1)}` : 'n/a')
const median = (xs: number[]) => percentile(xs, 50)

/** Receivers at the authority vs at a relay: [authority, relay] p50 and p99, medians over the cluster runs. */
function relayLatency(c: ClusterResult): { p50: [number, number]; p99: [number, number] } {
  const runs = c.cluster.flatMap((x) => (x.cluster ? [x.cluster] : []))
  return {
    p50: [median(runs.map((x) => x.atAuthority.p50)), median(runs.map((x) => x.atRelay.p50))],
    p99: [median(runs.map((x) => x.atAuthority.p99)), median(runs.map((x) => x.atRelay.p99))],
  }
}

const failoverTimes = (c: ClusterResult) => c.failover.rounds.flatMap((x) => (x.ms === null ? [] : [x.ms]))

export function evaluateTargets(r: BenchReport): TargetRow[] {
  const rows: TargetRow[] = []
  if (r.fanout) {
    const runs = r.cpu ?? { yroom: [r.fanout.yroom], hocuspocus: [r.fanout.hocuspocus] }
    const y = cpuPer1000(runs.yroom)
    const h = cpuPer1000(runs.hocuspocus)
    const ratio = y / h
    rows.push({
      target: 'Server CPU per 1,000 deliveries, standard load, authority on: ≤ 0.25 × Hocuspocus',
      measured: `${f(y * 1000, 2)} ms vs ${f(h * 1000, 2)} ms = **${f(ratio, 3)} ×**${runs.yroom.length > 1 ? ` (${runs.yroom.length} interleaved runs each)` : ''}`,
      met: Number.isFinite(ratio) ? ratio <= 0.25 : null,
    })
    // Issue 25: the same load as stock clients send it, against the transport alone and for latency.
    if (r.cpu?.floor) {
      const fl = r.cpu.floor.cpuPer1000
      rows.push({
        target: 'Server CPU per 1,000 deliveries, standard load, authority on: ≤ 1.3 × the forwarding floor (no document)',
        measured: `${f(y * 1000, 2)} ms vs ${f(fl * 1000, 3)} ms = **${f(y / fl, 2)} ×**`,
        met: Number.isFinite(y / fl) ? y / fl <= 1.3 : null,
      })
    }
    if (r.cpu?.stockBytes) {
      const b = r.cpu.stockBytes
      const yr = b.yroom.cpuPer1000 / y
      const hr = b.hocuspocus.cpuPer1000 / h
      rows.push({
        target: "A cheaper generator sending the stock clients' bytes ('stock-bytes', each overwrite encoded directly) costs the servers what stock clients cost (informational; capacity could use it if so)",
        measured: `server CPU per 1,000 deliveries under it ÷ under stock clients: yroom **${f(yr, 2)} ×** (${f(b.yroom.cpuPer1000 * 1000, 2)} ms), Hocuspocus **${f(hr, 2)} ×** (${f(b.hocuspocus.cpuPer1000 * 1000, 2)} ms); one run each`,
        met: null,
      })
    }
    const p99 = Math.max(...runs.yroom.map((x) => x.latency.p99))
    rows.push({
      target: 'Delivery latency, standard load, authority on: p99 ≤ 100 ms',
      measured: `**${f(p99, 1)} ms** (the highest p99 of ${runs.yroom.length} run${runs.yroom.length > 1 ? 's' : ''})`,
      met: Number.isFinite(p99) ? p99 <= 100 : null,
    })
  }
  if (r.capacity) {
    const y = r.capacity.find((c) => c.server === 'yroom')
    const h = r.capacity.find((c) => c.server === 'hocuspocus')
    if (y && h) {
      // Deliveries per second actually achieved at the highest step held. The generator writes
      // on a fixed schedule (loadgen/fixed-rate.ts), so this is the offered load unless it
      // could not keep up at all.
      const yl = y.highest?.result.deliveriesPerSec ?? 0
      const hl = h.highest?.result.deliveriesPerSec ?? 0
      const ratio = hl > 0 ? yl / hl : NaN
      const yFail = y.steps.find((st) => !st.held)
      const bound = y.open
        ? ' (yroom held every step: its figure is a lower bound)'
        : limitedByGenerator(y)
          ? ' (yroom failed while the load generator was saturated and yroom was not: lower bound)'
          : yFail && serverSaturated(yFail.result) && generatorSaturated(yFail.result)
            ? ` (at ${yFail.rooms} rooms both yroom and the load generator used a whole core each)`
            : ''
      rows.push({
        target: `Capacity (p99 ≤ ${MAX_P99_MS} ms, delivery ≥ ${MIN_RATIO * 100}%): ≥ 3 × Hocuspocus`,
        measured: `${k(yl)} vs ${k(hl)} deliveries/s = **${f(ratio, 2)} ×**${bound}`,
        met: Number.isFinite(ratio) ? (ratio >= 3 ? true : y.open || limitedByGenerator(y) ? null : false) : null,
      })
    }
  }
  if (r.authority) {
    rows.push({
      target: 'Authority on vs off: ≤ 1.15 × server CPU',
      measured: `**${f(r.authority.ratio, 3)} ×** (CPU per 1,000 deliveries, ${r.authority.on.length} runs each)`,
      met: Number.isFinite(r.authority.ratio) ? r.authority.ratio <= 1.15 : null,
    })
  }
  if (r.rejection?.rollback) {
    const rb = r.rejection.rollback
    const limit = r.tickMs + 10
    const earlier = r.rejectionEarlier ?? []
    rows.push({
      target: `Rollback reaches the offender within one tick + 10 ms (${limit} ms) at p99`,
      measured:
        `p99 **${f(rb.latency.p99, 1)} ms** (${rb.rolledBack}/${rb.writes} rejected writes rolled back)` +
        (earlier.length > 0 ? ` in attempt ${earlier.length + 1} (earlier: ${earlier.map((e) => `${f(e.rollback?.latency.p99, 1)} ms`).join(', ')})` : '') +
        (rb.first ? `; each offender's first rejected write (warm-up, ${rb.first.count}): p99 ${f(rb.first.p99, 1)} ms` : ''),
      met: rollbackMet(r.rejection, limit),
    })
  }
  if (r.cold) {
    const c = r.cold
    const floor = c.floor.medianMs ?? NaN
    const row = (target: string, t: Timing, decides = true) => {
      const ratio = (t.medianMs ?? t.timedOutAfterMs ?? NaN) / floor
      rows.push({
        target,
        measured: `${timing(t)} vs ${f(floor, 1)} ms = **${t.medianMs === null ? '> ' : ''}${f(ratio, 2)} ×**`,
        met: decides && Number.isFinite(ratio) ? ratio <= 1.5 : null,
      })
    }
    row(
      `Cold load (${c.models} models, ${c.updates}-update history) ≤ 1.5 × in-memory Y.applyUpdate — history as yroom stores it (${c.serverEntries} entries)`,
      c.server,
    )
    // Informational: no yroom writer leaves such a log (ticks store one entry each and
    // compact; backend edits of unloaded rooms compact; the first load compacts a long log).
    row(`… the same history as ${c.updates} separately appended entries: a log no yroom writer leaves behind (ticks, backend edits and the first load compact), as a store filled by another tool would hold it (informational)`, c.log, false)
    row('… the same room after compaction (one entry, as written at unload)', c.compacted)
    if (c.postgres) {
      const pg = c.postgres
      row(`Cold load from PostgreSQL ≤ 1.5 × in-memory Y.applyUpdate — history as yroom stores it (${c.serverEntries} entries)`, pg.server)
      row(`… from PostgreSQL, ${c.updates} separately appended entries (informational, as above)`, pg.log, false)
      row('… from PostgreSQL, after compaction (the snapshot, as written at unload)', pg.compacted)
    }
  }
  if (r.memory) {
    const m = r.memory
    rows.push({
      target: 'Loaded idle room ≤ 2 × its Y.Doc heap + 0.1 MB',
      measured: `**${f(m.roomRssMB * 1024, 0)} KB** RSS per room (limit ${f(m.limitMB * 1024, 0)} KB; Y.Doc heap ${f(m.docHeapMB * 1024, 0)} KB)`,
      met: m.roomRssMB <= m.limitMB,
    })
    const residuePerRoomKB = ((m.unloadedHeapMB - m.docsDroppedHeapMB) * 1024) / m.rooms
    rows.push({
      target: 'Unloaded rooms cost nothing measurable',
      measured:
        `heap after unloading ${m.rooms} rooms: ${f(m.unloadedHeapMB, 2)} MB above the baseline ` +
        `(plain Y.Docs dropped: ${f(m.docsDroppedHeapMB, 2)} MB) = **${f(residuePerRoomKB, 2)} KB/room**; ` +
        `RSS ${f(m.unloadedRssMB, 1)} MB (plain Y.Docs: ${f(m.docsDroppedRssMB, 1)} MB)`,
      met: residuePerRoomKB < 1,
    })
  }
  if (r.cluster) {
    const c = r.cluster
    const one = cpuPer1000(c.single)
    const two = cpuPer1000(c.cluster)
    rows.push({
      target: `Cluster, two nodes on one PostgreSQL and Redis: server CPU per 1,000 deliveries (both nodes) ≤ ${CLUSTER_CPU_TARGET} × one node on the same PostgreSQL`,
      measured: `${f(two * 1000, 3)} ms vs ${f(one * 1000, 3)} ms = **${f(c.ratio, 3)} ×** (${c.cluster.length} run${c.cluster.length > 1 ? 's' : ''} each, taking turns; with Redis's CPU counted: ${f(c.ratioWithRedis, 3)} ×)`,
      met: Number.isFinite(c.ratio) ? c.ratio <= CLUSTER_CPU_TARGET : null,
    })
    const lat = relayLatency(c)
    rows.push({
      target: 'Cluster: delivery latency the relay adds (receivers on the node relaying the room vs on its authority; informational)',
      measured: `p50 **${plus(lat.p50[1] - lat.p50[0])} ms** (${f(lat.p50[1])} vs ${f(lat.p50[0])}), p99 **${plus(lat.p99[1] - lat.p99[0])} ms** (${f(lat.p99[1])} vs ${f(lat.p99[0])})${c.cluster.length > 1 ? `, medians of ${c.cluster.length} runs` : ''}`,
      met: null,
    })
    const times = failoverTimes(c)
    const p99 = percentile(times, 99)
    rows.push({
      target: `Cluster failover, kill -9 of a room's authority (\`--lease-ms ${c.leaseMs}\`): a write made after the kill reaches a client on the surviving node within two leases (${(2 * c.leaseMs) / 1000} s; docs/scaling-out.md: "one to two leases")`,
      measured: `p50 ${f(percentile(times, 50), 0)} ms, p99 **${f(p99, 0)} ms** = ${f(p99 / c.leaseMs, 2)} leases (${times.length} of ${c.failover.rounds.length} rounds${times.length < 100 ? '; p99 of so few is their maximum' : ''})`,
      met: times.length === 0 ? null : times.length === c.failover.rounds.length && p99 <= 2 * c.leaseMs,
    })
  }
  if (r.b4) rows.push(...b4Targets(r.b4))
  return rows
}

function loadTable(rows: Array<{ label: string; r: LoadResult; vsHocus?: number }>, withRatio: boolean): string {
  const head =
    '| server | deliveries/s | delivered / expected | p50 ms | p99 ms | max ms | server CPU s (of it in the kernel) | CPU ms / 1,000 deliveries |' +
    (withRatio ? ' × Hocuspocus |' : '') +
    ' RSS MB (peak) | MB sent | frames received | load-gen CPU | other load (cores) | errors |'
  const sep = '|' + head.split('|').slice(1, -1).map(() => '---').join('|') + '|'
  const lines = rows.map(({ label, r, vsHocus }) => {
    const gen = `${f(r.genCpu * 100, 0)}%${generatorSaturated(r) ? ' ⚠' : ''}`
    const others = `${f(r.otherCpu, 2)}${contended(r) ? ' ⚠' : ''}`
    return (
      `| ${label} | ${k(r.deliveriesPerSec)} | ${pct(r.ratio)} | ${f(r.latency.p50)} | ${f(r.latency.p99)} | ${f(r.latency.max)} | ` +
      `${f(r.serverCpuSec, 2)}${r.serverSystemSec === undefined ? '' : ` (${f(r.serverSystemSec, 2)})`} | ${f(r.cpuPer1000 * 1000, 3)} |` +
      (withRatio ? ` ${f(vsHocus, 2)} |` : '') +
      ` ${f(r.serverRssMB, 0)} (${f(r.serverPeakRssMB, 0)}) | ${f(r.bytesOut / 2 ** 20, 1)} | ${r.framesIn} | ${gen} | ${others} | ${r.disconnects ? r.disconnects + ' disconnects; ' : ''}${r.errors.join('; ') || '—'} |`
    )
  })
  return [head, sep, ...lines].join('\n')
}

/** Scenario 8's section. */
function clusterSection(c: ClusterResult, std: Settings['standard']): string[] {
  const out: string[] = []
  const ms = (x: number | null | undefined) => f(x, 0)
  const lat = (l: { count: number; p50: number; p99: number } | undefined) => (l && l.count > 0 ? `${f(l.p50)} / ${f(l.p99)}` : '—')
  out.push('## 8. Cluster: two nodes on one PostgreSQL and Redis')
  out.push('')
  out.push(
    `Two yroom nodes (\`--data postgres://…\` one database, \`--redis\` one redis-server, \`--lease-ms ${c.leaseMs}\`), each a process on loopback as in scenario 1, ` +
      `against one node on the same PostgreSQL server without Redis (also \`--lease-ms ${c.leaseMs}\`), under the standard load (${std.rooms} rooms × ${std.clientsPerRoom} clients × ${std.hz} Hz). ` +
      '"Clients split": every room\'s clients split evenly over the two nodes; each room\'s first client joins alone, so the first node is the authority of rooms 0 and 2 and relays rooms 1 and 3 to its clients, the second the other way round. ' +
      '"Each room on one": all of a room\'s clients on one node (rooms 0 and 2 on the first, 1 and 3 on the second), so nothing is relayed: the cost of two processes apart from the cost of relaying. ' +
      `The kinds take turns in ${c.order.length} round${c.order.length > 1 ? 's' : ''}, the order rotating from round to round, each run with servers started fresh on a fresh database. ` +
      `Each run warms up for ${(c.warmupMs ?? std.warmupMs) / 1000} s before its window: two nodes each see half the calls, so V8 compiles their code later (with scenario 1's 2 s, compilation still took a few percent of the two nodes' CPU in the window). ` +
      `PostgreSQL: ${c.postgres.version}, a throwaway server (test/postgres.ts) with its durability defaults (${c.postgres.settings}); ${c.redis}, a throwaway redis-server (test/redis.ts), no persistence.`,
  )
  out.push('')
  const label = { single: 'one node', cluster: 'two nodes, clients split', partitioned: 'two nodes, each room on one' } as const
  const seen = { single: 0, cluster: 0, partitioned: 0 }
  const rows: Array<{ label: string; r: LoadResult }> = []
  c.order.forEach((round, i) => {
    for (const kind of round) {
      const r = (c[kind] as LoadResult[] | undefined)?.[seen[kind]++]
      if (r) rows.push({ label: `${label[kind]}, round ${i + 1}`, r })
    }
  })
  out.push(loadTable(rows, false))
  out.push('')
  out.push(
    'Server CPU and RSS of two nodes are their sums; "other load" leaves out Redis and PostgreSQL, which serve the servers under test. ' +
      `Server CPU per 1,000 deliveries over all runs of a kind (all CPU ÷ all deliveries), two nodes with the clients split ÷ one node: **${f(c.ratio, 3)} ×** (target ≤ ${CLUSTER_CPU_TARGET} ×); ` +
      `with Redis's CPU counted to the two nodes: ${f(c.ratioWithRedis, 3)} ×. Two nodes with each room on one (nothing relayed) ÷ one node: ${f(c.ratioPartitioned, 3)} ×.`,
  )
  out.push('')
  out.push('Where the CPU of the window went (seconds; PostgreSQL: the postmaster and its backends):')
  out.push('')
  out.push('| run | node 1 | node 2 | Redis | PostgreSQL | ms / 1,000 deliveries: servers | servers + Redis | servers + Redis + PostgreSQL |\n|---|---|---|---|---|---|---|---|')
  for (const { label, r } of rows) {
    const w = r.watchedCpuSec ?? {}
    const per = (sec: number) => f((sec / (r.delivered / 1000)) * 1000, 3)
    const nodes = r.cluster?.nodeCpuSec ?? [r.serverCpuSec]
    out.push(
      `| ${label} | ${f(nodes[0], 2)} | ${nodes[1] === undefined ? '—' : f(nodes[1], 2)} | ${r.cluster ? f(w.redis, 2) : '—'} | ${f(w.postgres, 2)} | ` +
        `${per(r.serverCpuSec)} | ${r.cluster ? per(r.serverCpuSec + (w.redis ?? NaN)) : '—'} | ${per(r.serverCpuSec + (w.redis ?? 0) + (w.postgres ?? NaN))} |`,
    )
  }
  out.push('')
  out.push(
    'Delivery latency (write → receipt, ms, p50 / p99) by where the receiver is connected: to the room\'s authority, or to the node relaying the room to it. ' +
      'By path, writer\'s node → receiver\'s node: authority → authority is a single server\'s path; authority → relay adds the authority\'s output stream; ' +
      'relay → authority the room\'s input stream; relay → relay both.',
  )
  out.push('')
  out.push(`| run | all receivers | at the authority | at the relay | relay adds (p50 / p99) | ${PATHS.join(' | ')} | authorities of rooms 0–${std.rooms - 1} |\n|---|---|---|---|---|${PATHS.map(() => '---|').join('')}---|`)
  for (const { label, r } of rows) {
    const cl = r.cluster
    if (!cl) {
      out.push(`| ${label} | ${lat(r.latency)} | ${lat(r.latency)} | — | — | ${PATHS.map(() => '—').join(' | ')} | the one node |`)
      continue
    }
    const moved = cl.authorityAfter.join() !== cl.authority.join() ? ` (after: ${cl.authorityAfter.map((a) => a + 1).join(', ')})` : ''
    const adds = cl.atRelay.count > 0 ? `${plus(cl.atRelay.p50 - cl.atAuthority.p50)} / ${plus(cl.atRelay.p99 - cl.atAuthority.p99)}` : '—'
    out.push(
      `| ${label} | ${lat(r.latency)} | ${lat(cl.atAuthority)} | ${lat(cl.atRelay)} | ${adds} | ` +
        `${cl.paths.map(lat).join(' | ')} | ${cl.authority.map((a) => (a < 0 ? '?' : `node ${a + 1}`)).join(', ')}${moved} |`,
    )
  }
  out.push('')
  const fo = c.failover
  const times = failoverTimes(c)
  out.push(`### Failover (\`--lease-ms ${c.leaseMs}\`)`)
  out.push('')
  out.push(
    `${fo.rounds.length} rounds. In each, a fresh room gets ${fo.clients} clients, half on each node (its first client joins alone, so its node is the authority; the authority alternates between the nodes), all writing at ${fo.hz} Hz. ` +
      'Once every client on the other node has received writes from every client, the authority is killed with SIGKILL. ' +
      'Measured from the kill: until a client on the surviving node receives a write made after the kill (the survivor took the lease, loaded the room from PostgreSQL, replayed the relayed input and serves it), ' +
      'and, for reference, until the survivor names the room among its own in `GET /cluster` (polled every 25 ms). The killed node is started again (a fresh process under the same name) between rounds.',
  )
  out.push('')
  out.push('| round | node killed | survivor holds the room, ms | first write after the kill seen at the survivor, ms | in leases | survivor clients disconnected | errors |\n|---|---|---|---|---|---|---|')
  fo.rounds.forEach((x, i) => {
    out.push(`| ${i + 1} | ${x.killed} | ${ms(x.takeoverMs)} | ${ms(x.ms)} | ${x.ms === null ? 'n/a' : f(x.ms / c.leaseMs, 2)} | ${x.survivorDisconnects} of ${fo.clients / 2} | ${x.error ?? '—'} |`)
  })
  out.push('')
  const takeovers = fo.rounds.flatMap((x) => (x.takeoverMs === null ? [] : [x.takeoverMs]))
  out.push(
    `First write after the kill seen at the survivor: p50 **${ms(percentile(times, 50))} ms**, p99 **${ms(percentile(times, 99))} ms** (nearest rank: with ${times.length} rounds the p99 is the slowest), ` +
      `min ${ms(Math.min(...times))} ms; the survivor held the room after p50 ${ms(percentile(takeovers, 50))} ms, p99 ${ms(percentile(takeovers, 99))} ms. ` +
      `A lease is renewed every third of it and a surviving node tries to take it every half lease, so the takeover is expected between about ${f((2 / 3) * c.leaseMs, 0)} and ${f(1.5 * c.leaseMs, 0)} ms after the kill, plus the load of the room.`,
  )
  out.push('')
  return out
}

/** Every load run of the report (for the contention summary). */
function allRuns(r: BenchReport): LoadResult[] {
  const runs: LoadResult[] = []
  if (r.fanout) runs.push(...Object.values(r.fanout))
  if (r.cpu) runs.push(...r.cpu.yroom.slice(1), ...r.cpu.hocuspocus.slice(1))
  if (r.authority) runs.push(...r.authority.on.slice(1), ...r.authority.off.slice(1))
  if (r.rejection) runs.push(...(r.rejectionEarlier ?? []), r.rejection)
  if (r.cpu?.floor) runs.push(r.cpu.floor)
  for (const c of r.capacity ?? []) runs.push(...c.steps.map((st) => st.result))
  for (const d of r.storage?.runs ?? []) runs.push(d.result)
  if (r.cluster) runs.push(...r.cluster.single, ...r.cluster.cluster)
  return runs
}

export function renderMarkdown(r: BenchReport): string {
  const s = r.settings
  const std = s.standard
  const out: string[] = []
  const targets = evaluateTargets(r)
  out.push('# Benchmarks')
  out.push('')
  out.push(
    `Generated by \`${r.command}\` (test/bench/run.ts) on ${r.date}, in ${f(r.durationSec / 60, 1)} min. ` +
      (r.quick ? '**Quick mode: short windows and small sizes, a smoke check only; these figures are not the benchmark.** ' : '') +
      'The machine is shared and noisy: ratios between servers measured in the same run are the figures that count; absolute times only describe this run.',
  )
  out.push('')
  for (const m of r.remeasured ?? []) {
    const which = m.scenarios.length === 1 ? `Scenario ${m.scenarios[0]} was` : `Scenarios ${m.scenarios.slice(0, -1).join(', ')} and ${m.scenarios[m.scenarios.length - 1]} were`
    out.push(
      `**${which} measured again** by \`${m.command}\` on ${m.date} at commit ${m.commit}, in ${f(m.durationSec / 60, 1)} min ` +
        `(load average start ${m.loadStart.map((x) => x.toFixed(2)).join(' / ')}, end ${m.loadEnd.map((x) => x.toFixed(2)).join(' / ')}), and merged into this report: ` +
        `${m.scenarios.length === 1 ? 'its' : 'their'} figures are from that run, the others' from the run above.`,
    )
    out.push('')
  }
  out.push('| | |\n|---|---|')
  out.push(`| machine | ${r.machine.cpu}, ${r.machine.cores} cores, ${f(r.machine.memGB, 0)} GB RAM, ${r.machine.os} |`)
  out.push(`| Node | ${r.machine.node} |`)
  out.push(`| load average (1/5/15 min) | start ${r.machine.loadStart.map((x) => x.toFixed(2)).join(' / ')}, end ${r.machine.loadEnd.map((x) => x.toFixed(2)).join(' / ')} |`)
  out.push(`| commit | ${r.commit} |`)
  out.push(`| versions | ${Object.entries(r.versions).map(([n, v]) => `${n} ${v}`).join(', ')} |`)
  out.push(`| standard load | ${std.rooms} rooms × ${std.clientsPerRoom} clients × ${std.hz} Hz = ${std.rooms * std.clientsPerRoom * std.hz} writes/s, ${k(std.rooms * std.clientsPerRoom * std.hz * (std.clientsPerRoom - 1))} expected deliveries/s |`)
  out.push(`| windows | warm-up ${std.warmupMs / 1000} s, measured ${std.measureMs / 1000} s, drain ${std.drainMs / 1000} s (capacity steps: ${s.capacity.warmupMs / 1000} / ${s.capacity.measureMs / 1000} / ${s.capacity.drainMs / 1000} s) |`)
  out.push(`| yroom tick | ${r.tickMs} ms (default) |`)
  out.push(`| waiting for a quiet machine | ${f(r.quietWaitSec ?? 0, 0)} s in all (before each run, up to ${s.quiet.maxWaitMs / 1000} s until others use < ${s.quiet.maxBusyCores} cores) |`)
  out.push('')
  const runs = allRuns(r)
  const busy = runs.filter(contended)
  if (busy.length > 0) {
    out.push(
      `**Contention: in ${busy.length} of ${runs.length} load runs other processes kept more than ${CONTENDED_CORES} cores busy ` +
        `(up to ${f(Math.max(...busy.map((x) => x.otherCpu)), 2)} of ${r.machine.cores}); latency and capacity figures of those runs include scheduling delays (marked ⚠).**`,
    )
    out.push('')
  }
  if (r.failures.length) {
    out.push('**Scenarios that failed to run:**')
    for (const x of r.failures) out.push(`- ${x}`)
    out.push('')
  }

  out.push('## Targets')
  out.push('')
  out.push('| target | measured | result |\n|---|---|---|')
  for (const t of targets) out.push(`| ${t.target} | ${t.measured} | ${yes(t.met)} |`)
  out.push('')
  out.push('"—": not decided by this run, or informational (see the scenario).')
  out.push('')

  if (r.fanout) {
    out.push('## 1. Fan-out at the standard load')
    out.push('')
    const h = r.fanout.hocuspocus.cpuPer1000
    out.push(loadTable(FANOUT_SERVERS.map((id) => ({ label: SERVERS[id].label, r: r.fanout![id], vsHocus: r.fanout![id].cpuPer1000 / h })), true))
    out.push('')
    out.push(
      'Deliveries count only other clients\' writes, once per receiver (yroom echoes the merged tick message to writers when several wrote; ' +
        '@y/websocket-server and Hocuspocus echo every update to its author). Latency: write → receipt by another client. ' +
        '"MB sent": bytes the server sent to all clients in the window (WebSocket framing included). ' +
        `"Other load": cores that other processes on the shared machine kept busy during the window; ⚠ above ${CONTENDED_CORES} (latency figures of such runs include scheduling delays). ` +
        'Load-gen ⚠: the load generator itself used > 90% of a core.',
    )
    out.push('')
    if (r.cpu && r.cpu.yroom.length > 1) {
      out.push(
        `CPU per delivery against Hocuspocus, for the target: the runs above plus ${r.cpu.yroom.length - 1} more of each, in pairs (Hocuspocus first), ` +
          `pooled (all CPU ÷ all deliveries): **${f(r.cpu.ratio, 3)} ×**. One run on this shared machine can be off by a third either way.`,
      )
      out.push('')
      const rows = r.cpu.yroom.slice(1).flatMap((y, i) => [
        { label: `@hocuspocus/server, pair ${i + 1}`, r: r.cpu!.hocuspocus[i + 1] },
        { label: `yroom (authority on), pair ${i + 1}`, r: y, vsHocus: y.cpuPer1000 / r.cpu!.hocuspocus[i + 1].cpuPer1000 },
      ])
      out.push(loadTable(rows, true))
      out.push('')
    }
    if (r.cpu?.floor) out.push(floorNote(r.cpu), '')
  }

  if (r.capacity) {
    out.push('## 2. Capacity')
    out.push('')
    out.push(`Rooms of ${std.clientsPerRoom} clients × ${std.hz} Hz are added until p99 > ${MAX_P99_MS} ms or delivery < ${MIN_RATIO * 100}% (the servers take turns at each step; a failed step is retried once, twice if other processes were busy during it${s.capacity.refine ? '; then steps between the last pass and the failure narrow it down to one room' : ''}). The clients are stock clients, as in scenario 1; their generator runs out of its core at about 12 rooms (load-gen CPU in the steps below), so a server that holds more is limited by the generator on this 2-core machine, not by itself. A cheaper generator sending the same bytes ('stock-bytes', \`test/bench/loadgen/client.ts\`) is not used here: the servers' CPU under it differs from under stock clients (the targets table compares the two).`)
    out.push('')
    if (r.chartPath) out.push(`![capacity: p99 against offered load](${r.chartPath})`)
    out.push('')
    out.push('| server | highest load held | rooms | steps (rooms: p99 ms / delivered / server CPU share / load-gen CPU / other load in cores; ✗ = not held, last attempt shown) |\n|---|---|---|---|')
    for (const c of r.capacity) {
      const steps = c.steps
        .map(
          (st) =>
            `${st.rooms}: ${f(st.result.latency.p99, 0)} / ${pct(st.result.ratio)} / ${f((st.result.serverCpuSec / st.result.windowSec) * 100, 0)}% / ` +
            `${f(st.result.genCpu * 100, 0)}% / ${f(st.result.otherCpu, 2)}${contended(st.result) ? ' ⚠' : ''}${st.attempts > 1 ? ` (${st.attempts} attempts)` : ''}${st.held ? '' : ' ✗'}`,
        )
        .join('; ')
      const held = c.highest ? `${k(c.highest.result.deliveriesPerSec)} deliveries/s (offered ${k(c.highest.offered)})${c.open ? ' (every step held)' : ''}${limitedByGenerator(c) ? ' (failure while the load generator was saturated: lower bound)' : ''}` : 'none'
      out.push(`| ${SERVERS[c.server].label} | ${held} | ${c.highest?.rooms ?? 0} | ${steps} |`)
    }
    out.push('')
  }

  if (r.authority) {
    out.push('## 3. Authority on vs off (standard load)')
    out.push('')
    const rows = [
      ...r.authority.on.map((x, i) => ({ label: `authority on, run ${i + 1}`, r: x })),
      ...r.authority.off.map((x, i) => ({ label: `authority off, run ${i + 1}`, r: x })),
    ]
    out.push(loadTable(rows, false))
    out.push('')
    out.push(`Server CPU per 1,000 deliveries, on ÷ off over all runs: **${f(r.authority.ratio, 3)}**. Run 1 of each is scenario 1's; the extra pairs run side by side (both servers loaded at the same time, one load generator each), so both see the same machine.`)
    out.push('')
  }

  if (r.rejection) {
    const rb = r.rejection.rollback!
    out.push('## 4. Rejection storm (yroom, authority on)')
    out.push('')
    out.push(
      `${std.rooms} rooms × ${std.clientsPerRoom} clients × ${std.hz} Hz; in each room ${s.rejection.offendersPerRoom} clients write only into another client's model ` +
        `(${f((100 * s.rejection.offendersPerRoom) / std.clientsPerRoom, 0)}% of writes; a fresh key per write), the others into their own model. ` +
        'Offenders decode what they receive; rollback time = write → the inserted item is deleted in the offender\'s own replica. ' +
        'yroom applies updates at the tick, except those that might be rejected (a write into another client\'s model is one), applied within `applyDelayMs` (10 ms). ' +
        'Each offender\'s first rejected write is made in the warm-up, while clients are still joining; those are shown apart.',
    )
    out.push('')
    out.push('| rejected writes | count | rolled back | rollback p50 ms | p99 ms | max ms |\n|---|---|---|---|---|---|')
    out.push(`| in the window | ${rb.writes} | ${rb.rolledBack} (${pct(rb.writes ? rb.rolledBack / rb.writes : NaN)}) | ${f(rb.latency.p50)} | ${f(rb.latency.p99)} | ${f(rb.latency.max)} |`)
    if (rb.first) out.push(`| each offender's first | ${s.rejection.offendersPerRoom * std.rooms} | ${rb.first.count} | ${f(rb.first.p50)} | ${f(rb.first.p99)} | ${f(rb.first.max)} |`)
    out.push('')
    out.push('Accepted writes of the same run:')
    out.push('')
    out.push(loadTable([{ label: 'yroom (authority on), 20% offenders', r: r.rejection }], false))
    out.push('')
    if (r.rejection.ratio < 1) {
      out.push(
        'Why delivery here can fall below 100 % with nothing lost: when a batch holds a rejected write, yroom sends the batch as Yjs encodes its transaction, ' +
          'and Yjs has already garbage-collected a value that its own author overwrote within the same batch. Such an intermediate value ' +
          'reaches no other client (every replica still ends at the author\'s latest value), and the generator counts its marker as not delivered. ' +
          'Without rejections, updates are sent as received and every intermediate value arrives (scenario 1); ' +
          'with Yjs\'s garbage collection turned off in the server\'s documents, this storm delivered 100.00 % (measured 2026-12-03, two runs each: 100.00 % against 97.9 and 98.7 % with it on).',
      )
      out.push('')
    }
    const earlier = r.rejectionEarlier ?? []
    if (earlier.length > 0) {
      out.push(
        `A run whose rollback p99 misses the target is repeated (once; twice when other processes kept more than ${CONTENDED_CORES} cores busy), as capacity steps are. ` +
          `The run above is attempt ${earlier.length + 1}; the earlier ones: ` +
          earlier
            .map((e, i) => `attempt ${i + 1}, rollback p99 ${f(e.rollback?.latency.p99, 1)} ms (${e.rollback?.rolledBack}/${e.rollback?.writes} rolled back), other load ${f(e.otherCpu, 2)} cores, load-generator loop p99 ${f(e.genLoopP99, 0)} ms`)
            .join('; ') +
          '.',
      )
      out.push('')
    }
  }

  if (r.cold) {
    const c = r.cold
    out.push('## 5. Cold load')
    out.push('')
    out.push(
      `A room with ${c.models} owned models and a ${c.updates}-update history (${f(c.logBytes / 2 ** 20, 1)} MB of updates; state ${f(c.stateBytes / 2 ** 20, 2)} MB) in LevelDB${c.postgres ? ' and in PostgreSQL' : ''}, ` +
        'loaded by the server\'s own registry (`rooms.open`: storage read, merge, apply, plugins\' onLoad) in a fresh process, in-process rather than over a socket so the figure is the load itself. ' +
        `Median of ${s.cold.trials} trial(s), each in a fresh process after a JIT warm-up on a small room; the variants take turns, trial by trial, so drift of the shared machine moves them alike.`,
    )
    out.push('')
    const pg = c.postgres
    out.push(pg ? '| what | LevelDB | × floor | PostgreSQL | × floor |\n|---|---|---|---|---|' : '| what | time | × floor |\n|---|---|---|')
    const fl = c.floor.medianMs ?? NaN
    const cells = (t: Timing | undefined) =>
      t === undefined ? '— | —' : `${timing(t)} | ${t.medianMs !== null ? f(t.medianMs / fl, 2) : t.timedOutAfterMs !== null ? '> ' + f(t.timedOutAfterMs / fl, 0) : '—'}`
    const row = (label: string, t: Timing, onPg?: Timing) => out.push(`| ${label} | ${cells(t)} |${pg ? ` ${cells(onPg)} |` : ''}`)
    row('floor: `Y.applyUpdate(new Y.Doc(), state)` in memory', c.floor)
    row(`yroom, as a running server stores it: one merged entry per ${c.tickUpdates}-update tick, compacted past the limit (${c.serverEntries} entries)`, c.server, pg?.server)
    row(`yroom, ${c.updates} separately appended entries (a raw log no yroom writer leaves: ticks, backend edits and the first load compact; it is compacted by this load)`, c.log, pg?.log)
    row('yroom, compacted log (one entry, as stored at unload)', c.compacted, pg?.compacted)
    row(`in memory, no storage: \`Y.applyUpdate(doc, Y.mergeUpdates(${c.updates} updates))\``, c.mergeApply)
    out.push('')
    if (pg) {
      out.push(
        `PostgreSQL: ${pg.version}, a throwaway server the scenario starts (test/postgres.ts) and stops, on loopback TCP, with PostgreSQL's durability defaults (${pg.settings}). ` +
          'Each form is written into a database of its own as a server writes it (the room\'s lease held; the compacted state in the snapshot table, in chunks of at most 1 MB); ' +
          'each trial loads a copy made before the clock starts (`CREATE DATABASE … TEMPLATE`, as the LevelDB directory is copied), so the load takes the room\'s lease, reads the snapshot and the log in one transaction, and applies them. ' +
          'Both stores are read warm from the OS page cache (freshly copied).',
      )
      out.push('')
    } else if (c.postgresSkipped) {
      out.push(`PostgreSQL not measured: ${c.postgresSkipped}.`)
      out.push('')
    }
  }

  if (r.storage) {
    out.push('## 6. Storage: accepted updates written durably')
    out.push('')
    out.push('| server (store) | accepted updates/s | delivered / expected | p99 ms | CPU ms / 1,000 deliveries | newest delivered write of each writer found after SIGKILL |\n|---|---|---|---|---|---|')
    for (const d of r.storage.runs) {
      out.push(
        `| ${SERVERS[d.server].label} (${d.store}) | ${f(d.acceptedPerSec, 0)} | ${pct(d.result.ratio)} | ${f(d.result.latency.p99)} | ${f(d.result.cpuPer1000 * 1000, 3)} | ${d.crashCheck.durable} / ${d.crashCheck.writers} |`,
      )
    }
    out.push('')
    out.push(
      'Standard load; accepted updates/s = writes delivered to the other clients per second (a write counts once). After the window the server is killed with SIGKILL and its store reopened: ' +
        'for every writer, the newest write any client had received must be in the store. yroom appends a tick to its store (LevelDB, or PostgreSQL) before it broadcasts it.',
    )
    out.push('')
    const st = r.storage
    const pgOf = (a: (typeof st.append)[number]) => a.backend === 'postgres'
    if (st.append.some((a) => pgOf(a) || a.storedBytesPerUpdate !== undefined) || st.postgres) {
      out.push('yroom\'s storage layer alone (4 rooms appending concurrently, each batch awaited as the tick does; on PostgreSQL each room\'s lease taken first, as a server does, and a fresh database per run):')
      out.push('')
      out.push('| store | batch | updates/s | bytes/update | stored bytes/update |\n|---|---|---|---|---|')
      for (const a of st.append) {
        const store = pgOf(a) ? `PostgreSQL${a.variant ? `, ${a.variant}` : ''}` : 'LevelDB'
        out.push(`| ${store} | ${a.batch} | ${f(a.updatesPerSec, 0)} | ${f(a.bytesPerUpdate, 0)} | ${f(a.storedBytesPerUpdate, 0)} |`)
      }
      out.push('')
      out.push(
        '"bytes/update": the Yjs update itself (one writer\'s overwrite of its model). "stored bytes/update": what the store holds per update, measured once it holds at least ' +
          `${Math.min(...st.append.map((a) => a.updates ?? Infinity)).toLocaleString('en-US')} updates (a short timed run is topped up, untimed, with the same updates): ` +
          'for LevelDB the size of its directory after close (write-ahead log and tables) ÷ updates; for PostgreSQL `pg_total_relation_size` of the updates table (heap, TOAST and the primary-key index) ÷ its rows, ' +
          'so the row header, the room name and seq of every row are included.',
      )
      out.push('')
      if (st.postgres) {
        out.push(
          `PostgreSQL: ${st.postgres.version}, a throwaway server the scenario starts (test/postgres.ts) and stops, on loopback TCP, with PostgreSQL's durability defaults (${st.postgres.settings}): ` +
            'a commit returns once its WAL is flushed to disk. LevelDB here does not fsync each write (a killed server process loses nothing; a machine crash could, and the head record reports it): ' +
            'the `synchronous_commit=off` rows (set per connection) give PostgreSQL the same promise, a commit returning before its WAL is flushed.',
        )
        out.push('')
      }
    } else {
      out.push('yroom\'s LevelDB storage layer alone (4 rooms appending concurrently, each batch awaited as the tick does):')
      out.push('')
      out.push('| batch | updates/s | bytes/update |\n|---|---|---|')
      for (const a of st.append) out.push(`| ${a.batch} | ${f(a.updatesPerSec, 0)} | ${f(a.bytesPerUpdate, 0)} |`)
      out.push('')
    }
    if (st.postgresSkipped) {
      out.push(`PostgreSQL not measured: ${st.postgresSkipped}.`)
      out.push('')
    }
  }

  if (r.memory) {
    const m = r.memory
    out.push('## 7. Memory of idle rooms')
    out.push('')
    out.push(
      `${m.rooms} rooms of ${m.models} models (state ${f(m.stateBytes / 1024, 1)} KB each), loaded through the server's registry with the default plugins and no connections, ` +
        'in-process (so the per-room figure contains no sockets), against the same number of plain `Y.Doc`s with the same state in another process. Garbage is collected until RSS and heap settle.',
    )
    out.push('')
    out.push('| | per room / doc | after unloading all (total, vs before loading) |\n|---|---|---|')
    out.push(`| plain Y.Doc, heap | ${f(m.docHeapMB * 1024, 1)} KB | ${f(m.docsDroppedHeapMB, 2)} MB (destroyed) |`)
    out.push(`| yroom room, heap | ${f(m.roomHeapMB * 1024, 1)} KB | ${f(m.unloadedHeapMB, 2)} MB |`)
    out.push(`| yroom room, RSS | **${f(m.roomRssMB * 1024, 1)} KB** (limit ${f(m.limitMB * 1024, 0)} KB) | ${f(m.unloadedRssMB, 1)} MB (plain Y.Docs: ${f(m.docsDroppedRssMB, 1)} MB) |`)
    out.push('')
    out.push('RSS that V8 and the allocator keep after freeing is the same for plain Y.Docs, so unloading is judged on the heap residue beyond the plain-Y.Doc control.')
    out.push('')
  }

  if (r.cluster) out.push(...clusterSection(r.cluster, std))
  else if (r.clusterSkipped) out.push('## 8. Cluster', '', `Not measured: ${r.clusterSkipped}.`, '')

  if (r.b4) out.push(...b4Section(r.b4))

  if (r.profiles.length) {
    out.push('## Profiles')
    out.push('')
    out.push(
      'What is profiled: the yroom server under the standard load when the CPU or the capacity target is missed, and every cold load ' +
        'over 1.5 × its floor, the informational raw log of separately appended entries included' +
        (r.cluster?.profile ? '; the two cluster nodes when they miss their CPU target (scenario 8).' : '.'),
    )
    out.push('')
    for (const p of r.profiles) {
      out.push(`### ${p.title}`)
      out.push('')
      out.push(p.note)
      out.push('')
      out.push('| self % | self ms | function | where |\n|---|---|---|---|')
      for (const h of p.top) out.push(`| ${f(h.selfPct, 1)} | ${f(h.selfMs, 0)} | \`${h.name}\` | ${h.where || '(native)'} |`)
      out.push('')
    }
  }

  out.push('## Method')
  out.push('')
  out.push(
    [
      `- Servers run as separate processes on loopback with their default configuration: yroom \`node ${yroomNodeFlags().map((x) => x + ' ').join('')}dist/server/cli.js serve --data :memory:\` (authority plugin on, and \`--no-authority\`), ` +
        'with the Node flags `npm start` uses (a larger young generation: docs/performance.md, "Node flags"); ' +
        '`@y/websocket-server` (its own `y-websocket-server` bin) and Hocuspocus (`new Server()` with no extensions; its default `flushDelay: 0` coalesces updates per event-loop turn), with Node\'s defaults.',
      '- The load generator is its own process. Its clients send what stock y-websocket and Hocuspocus clients send (`test/bench/loadgen/client.ts`): the `ws` package\'s socket with its defaults (random masks, permessage-deflate offered), ' +
        'a hello with sync step 1 and an awareness state, sync step 2 in answer to the server\'s step 1, and each write a real Yjs transaction by a `Y.Doc` with a random 32-bit client id, ' +
        'setting the client\'s own key of one shared root map to a marker holding its writer id and the send time. ' +
        'The rejection storm (scenario 4) is the exception: its offenders write into other clients\' owned models, so there every client owns a model (`$meta.ownerID` = its clientID) and writes `v` in it, over a raw WebSocket client with hand-encoded overwrites (byte for byte what Yjs writes). ' +
        'Each client writes on a fixed schedule from a random phase (write k due at start + k × 50 ms; a late timer makes every write that fell due), so the generator\'s own lag does not lower the offered rate. ' +
        'Received frames are scanned for markers without decoding Yjs. ' +
        'Hocuspocus clients prefix every message with the document name and authenticate first.',
      '- Server CPU: utime + stime from `/proc/<pid>/stat` over the measured window; RSS from `/proc/<pid>/status`. Each run starts a fresh server process.',
      '- A write counts as expected once for every other client of its room; a delivery is counted only for writes made inside the window, whenever they arrive before the drain ends.',
      '- Everything ran on one machine: the servers, the load generator and other users of the machine share the CPU cores.',
      '- To compare two builds or settings of yroom (not part of this report), `npm run bench:ab` loads both at the same time, one load generator each, so both see the same machine; see `test/bench/ab.ts`.',
    ].join('\n'),
  )
  out.push('')
  return out.join('\n')
}
