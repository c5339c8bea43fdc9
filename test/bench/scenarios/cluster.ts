/**
 * Scenario 8, cluster (issue 24): two yroom nodes (`--redis`, one PostgreSQL database)
 * against one node on the same PostgreSQL, and failover.
 *
 *  - CPU and latency: the standard load with every room's clients split evenly over the two
 *    nodes (loadgen: client i of room r on node (i + r) mod 2; room r's first client joins
 *    alone, so node r mod 2 is its authority and each node is the authority of half the
 *    rooms and relays the other half). Server CPU is both nodes' together; Redis's and
 *    PostgreSQL's CPU are reported apart. The single node runs the same clients on the same
 *    PostgreSQL server, without Redis. Runs take turns (the order rotates from one pair of
 *    runs to the next) and each gets a fresh database. Latency is split by where the
 *    receiver is connected: the room's authority, or the node that relays it.
 *  - For where the cost goes: the same two nodes with each room's clients all on one node
 *    (room r on node r mod 2), so nothing is relayed: the cost of splitting the rooms over
 *    two processes, apart from the cost of relaying.
 *  - Failover: a room with clients on both nodes, all writing; its authority is killed with
 *    SIGKILL, and the time is taken until a client on the surviving node receives a write
 *    made after the kill (the survivor took the lease over, loaded the room and serves
 *    it). The killed node is started again between rounds; the authority alternates.
 *
 * Skipped, with a note, when PostgreSQL or redis-server is not installed.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { redisInstalled, startRedis, type RedisServer } from '../../redis.js'
import { runLoadgen } from '../lib/loadgen.js'
import { benchPgSettingsText, startBenchPostgres } from '../lib/postgres.js'
import { hotFunctions, inclusiveTimes, type HotFunction } from '../lib/profile.js'
import { BenchClient, nowMicros, Stats } from '../loadgen/client.js'
import type { LoadConfig, LoadResult, WatchedProcess } from '../loadgen/types.js'
import { ROOT, startServer, type RunningServer } from '../servers/servers.js'
import { cpuPer1000 } from './fanout.js'
import { brief, log, waitForQuiet, type Settings } from './common.js'
import type { PostgresServer } from '../../postgres.js'

export interface FailoverRound {
  room: string
  /** The node killed (the room's authority): 'A' or 'B'. */
  killed: string
  clients: number
  /** SIGKILL → first write made after it received by a client on the surviving node, ms; null: none in time. */
  ms: number | null
  /** SIGKILL → the survivor names the room among its own (GET /cluster, polled every 25 ms), ms. */
  takeoverMs: number | null
  /** Clients on the surviving node that lost their connection in the round (expected: none). */
  survivorDisconnects: number
  error?: string
}

/** One node; two nodes sharing every room (clients split); two nodes, each room on one of them. */
export type ClusterRunKind = 'single' | 'cluster' | 'partitioned'

export interface ClusterResult {
  leaseMs: number
  /** Warm-up of each load run, ms (absent in reports from before it: the standard load's). */
  warmupMs?: number
  /** Runs of each kind, in rounds of one each (`order[i]`: the order of round i). */
  single: LoadResult[]
  cluster: LoadResult[]
  partitioned: LoadResult[]
  order: ClusterRunKind[][]
  /** Server CPU per 1,000 deliveries, two nodes (summed) ÷ one node, over all runs. */
  ratio: number
  /** The same with Redis's CPU added to the two nodes' (PostgreSQL's left out on both sides). */
  ratioWithRedis: number
  /** Two nodes, each room on one of them (nothing relayed) ÷ one node. */
  ratioPartitioned: number
  failover: { rounds: FailoverRound[]; clients: number; hz: number }
  postgres: { version: string; settings: string }
  redis: string
  profile?: { title: string; note: string; busyMs: number; top: HotFunction[] }
}

export type ClusterOutcome = ClusterResult | { skipped: string }

/** Nearest-rank percentile of `xs` (p99 of fewer than 100 values is their maximum). */
export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length))) - 1]
}

/** The redis-server process listening on `port` (its title is `redis-server 127.0.0.1:PORT`). */
function redisPid(port: number): number | undefined {
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const cmd = readFileSync(`/proc/${name}/cmdline`, 'latin1').replace(/\0/g, ' ')
      if (cmd.startsWith('redis-server') && (cmd.includes(`:${port}`) || cmd.includes(`--port ${port}`))) return Number(name)
    } catch {
      // exited meanwhile
    }
  }
  return undefined
}

function postmasterPid(pg: PostgresServer): number | undefined {
  try {
    return Number(readFileSync(join(pg.dir, 'data', 'postmaster.pid'), 'latin1').split('\n')[0]) || undefined
  } catch {
    return undefined
  }
}

let dbCounter = 0
let runCounter = 0

interface Env {
  pg: PostgresServer
  redis: RedisServer
  watch: WatchedProcess[]
  leaseMs: number
}

const nodeArgs = (env: Env, name: string) => ['--redis', env.redis.url, '--node-id', name, '--lease-ms', String(env.leaseMs)]
const startNode = (env: Env, name: string, data: string, cpuProfDir?: string) =>
  startServer('yroom', { data, args: nodeArgs(env, name), logLevel: 'warn', name: `node ${name}`, cpuProfDir })

/** One load run: one node without Redis, or two nodes in cluster mode; a fresh database each. */
async function run(env: Env, s: Settings, kind: ClusterRunKind, cpuProfDir?: string): Promise<LoadResult> {
  await waitForQuiet(s)
  const db = await env.pg.createDatabase(`bench_cluster_${++dbCounter}`)
  const servers: RunningServer[] = []
  try {
    if (kind === 'single') {
      servers.push(await startServer('yroom', { data: db.url, args: ['--lease-ms', String(env.leaseMs)], logLevel: 'warn', name: 'single node', cpuProfDir }))
    } else {
      servers.push(await startNode(env, 'A', db.url, cpuProfDir), await startNode(env, 'B', db.url, cpuProfDir))
    }
    const cfg: LoadConfig = {
      flavor: 'y-websocket',
      host: '127.0.0.1',
      port: servers[0].port,
      serverPid: servers[0].pid,
      ...s.standard,
      warmupMs: s.cluster.warmupMs,
      offendersPerRoom: 0,
      roomPrefix: `cluster${++runCounter}`,
      watch: env.watch,
      ...(kind === 'single' ? {} : { nodes: servers.map((x) => ({ port: x.port, pid: x.pid })), spread: kind === 'cluster' ? 'clients' : 'rooms' }),
    }
    return await runLoadgen(cfg)
  } finally {
    for (const x of servers) await x.stop()
    await db.drop().catch(() => {})
  }
}

/** A figure for the log; 'n/a' for a missing one (NaN crosses the generator's JSON as null). */
const fx = (n: number | null | undefined, d = 1) => (typeof n === 'number' && Number.isFinite(n) ? n.toFixed(d) : 'n/a')

function clusterBrief(r: LoadResult): string {
  const c = r.cluster
  const w = r.watchedCpuSec ?? {}
  const share = (sec: number | undefined) => `${fx(((sec ?? NaN) / r.windowSec) * 100, 0)}%`
  const parts = [`redis ${share(w.redis)}, postgres ${share(w.postgres)}`]
  if (c) {
    parts.push(
      `nodes ${c.nodeCpuSec.map(share).join(' + ')}`,
      `authorities ${c.authority.join(',')}`,
      `at authority p50 ${fx(c.atAuthority.p50)} p99 ${fx(c.atAuthority.p99)} ms`,
      `at relay p50 ${fx(c.atRelay.p50)} p99 ${fx(c.atRelay.p99)} ms`,
    )
  }
  return parts.join('; ')
}

/** GET /cluster: the rooms `server` is the authority of (empty when it does not answer). */
async function heldBy(server: RunningServer): Promise<Set<string>> {
  try {
    const res = await fetch(`http://127.0.0.1:${server.port}/cluster`, { signal: AbortSignal.timeout(1000) })
    const body = (await res.json()) as { rooms: Array<{ name: string }> }
    return new Set(body.rooms.map((r) => r.name))
  } catch {
    return new Set()
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = performance.now() + timeoutMs
  while (!(await check())) {
    if (performance.now() > end) throw new Error(`timed out (${timeoutMs} ms) waiting for ${what}`)
    await sleep(10)
  }
}

/**
 * One failover round: `nodes[auth]` is made the room's authority (its first client joins
 * there alone), the other clients join both nodes, everyone writes; then the authority is
 * killed and the time taken until a client on the survivor receives a write made after it.
 */
async function failoverRound(nodes: RunningServer[], names: string[], auth: number, room: string, s: Settings, leaseMs: number): Promise<FailoverRound> {
  const n = s.cluster.failoverClients
  const survivor = 1 - auth
  const stats = new Stats()
  const clients = Array.from(
    { length: n },
    (_, i) => new BenchClient({ id: i, roomBase: 0, clientsPerRoom: n, roomName: room, victimId: null, node: (i + auth) % 2, shape: 'stock' }, 'y-websocket', stats),
  )
  const round: FailoverRound = { room, killed: names[auth], clients: n, ms: null, takeoverMs: null, survivorDisconnects: 0 }
  let killAt = Infinity
  let seenAt: number | null = null
  stats.onDelivery = (_writer, ts, receiver, now) => {
    if (seenAt === null && receiver.node === survivor && ts >= killAt) seenAt = now
  }
  const onSurvivor = clients.filter((c) => c.spec.node === survivor)
  try {
    await clients[0].connect('127.0.0.1', nodes[auth].port)
    await until(() => clients[0].synced, 10_000, 'the first client')
    await Promise.all(clients.slice(1).map((c) => c.connect('127.0.0.1', nodes[c.spec.node!].port)))
    await until(() => clients.every((c) => c.synced), 10_000, 'every client synced')
    if (!(await heldBy(nodes[auth])).has(room)) throw new Error(`node ${names[auth]} is not the authority of ${room}`)
    for (const c of clients) c.createModel()
    for (const c of clients) c.start(s.cluster.failoverHz)
    // Writes flow both ways before the kill: each survivor client has heard from every writer.
    await until(() => onSurvivor.every((c) => clients.every((w) => w === c || c.lastSeenOf(w.spec.id) >= 0)), 10_000, 'writes from every client at the survivor')
    // A random moment within a lease: rounds run alike, and the kill would otherwise fall at
    // the same point of the nodes' renewal (lease / 3) and takeover (lease / 2) timers each time.
    await sleep(500 + Math.random() * leaseMs)
    killAt = nowMicros()
    await nodes[auth].kill()
    const deadline = performance.now() + 10 * leaseMs
    const taken = (async () => {
      while (performance.now() < deadline) {
        if ((await heldBy(nodes[survivor])).has(room)) return (nowMicros() - killAt) / 1000
        await sleep(25)
      }
      return null
    })()
    await until(() => seenAt !== null, 10 * leaseMs, `a write made after the kill at node ${names[survivor]}`).catch((err: Error) => (round.error = err.message))
    round.ms = seenAt === null ? null : (seenAt - killAt) / 1000
    round.takeoverMs = await taken
    // The killed node's clients lost their connections; the survivor's should not have.
    round.survivorDisconnects = onSurvivor.filter((c) => c.disconnected).length
  } finally {
    stats.stopping = true
    for (const c of clients) c.close()
  }
  return round
}

async function failover(env: Env, s: Settings): Promise<FailoverRound[]> {
  const db = await env.pg.createDatabase('bench_cluster_failover')
  const names = ['A', 'B']
  const nodes: RunningServer[] = []
  const rounds: FailoverRound[] = []
  try {
    for (const name of names) nodes.push(await startNode(env, name, db.url))
    for (let k = 0; k < s.cluster.failoverRounds; k++) {
      const auth = k % 2
      await waitForQuiet(s)
      const round = await failoverRound(nodes, names, auth, `failover-${k}`, s, env.leaseMs).catch(
        (err: Error): FailoverRound => ({ room: `failover-${k}`, killed: names[auth], clients: s.cluster.failoverClients, ms: null, takeoverMs: null, survivorDisconnects: 0, error: err.message }),
      )
      rounds.push(round)
      log(
        `  failover ${k + 1}: killed ${round.killed}; takeover ${round.takeoverMs?.toFixed(0) ?? 'n/a'} ms, first write after the kill seen at the survivor ${round.ms?.toFixed(0) ?? 'n/a'} ms` +
          `${round.survivorDisconnects ? `, ${round.survivorDisconnects} survivor clients disconnected` : ''}${round.error ? ` (${round.error})` : ''}`,
      )
      // The killed node comes back (a fresh process under the same name) for the next round.
      await nodes[auth].kill()
      nodes[auth] = await startNode(env, names[auth], db.url)
    }
    return rounds
  } finally {
    for (const x of nodes) await x.stop()
    await db.drop().catch(() => {})
  }
}

/** Inclusive groups of the cluster profile: where the nodes' time goes, socket writes included. */
const PROFILE_GROUPS: Record<string, (name: string, url: string) => boolean> = {
  'Redis commands sent (ioredis `sendCommand` and under it: command encoding, auto-pipelining, socket writes)': (n, u) => n === 'sendCommand' && u.includes('/ioredis/'),
  'Redis replies parsed (ioredis `DataHandler`)': (_n, u) => u.includes('/ioredis/built/DataHandler'),
  'relayed input handled by the authority (`HeldRoom.handle`)': (n, u) => n === 'handle' && u.endsWith('/cluster/held-room.js'),
  "output delivered by a relay to its clients (`RelayedRoom.deliver`)": (n, u) => n === 'deliver' && u.endsWith('/cluster/relayed-room.js'),
  'frames written to clients (`Connection.sendFrame`)': (n, u) => n === 'sendFrame' && u.endsWith('/transport/connection.js'),
  'client messages received (ws `socketOnData`)': (n, u) => n === 'socketOnData' && u.includes('/ws/lib/'),
  'Yjs transactions (`transact`)': (n, u) => n === 'transact' && u.includes('/yjs/'),
  'PostgreSQL client (pg)': (_n, u) => /\/(pg|pg-protocol|pg-pool)\//.test(u),
  'garbage collector': (n) => n === '(garbage collector)',
}

/** Both nodes' profiles (--cpu-prof) added up: self time by function, and the inclusive groups. */
function combinedProfile(dir: string): { busyMs: number; totalMs: number; top: HotFunction[]; groups: Record<string, number>; files: string[] } {
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))
  const agg = new Map<string, HotFunction>()
  const groups: Record<string, number> = Object.fromEntries(Object.keys(PROFILE_GROUPS).map((g) => [g, 0]))
  let busy = 0
  let total = 0
  for (const f of files) {
    const h = hotFunctions(join(dir, f), ROOT, 200)
    busy += h.totalMs - h.idleMs
    total += h.totalMs
    for (const t of h.top) {
      const key = `${t.name}|${t.where}`
      const a = agg.get(key) ?? { ...t, selfMs: 0, selfPct: 0 }
      a.selfMs += t.selfMs
      agg.set(key, a)
    }
    const inc = inclusiveTimes(join(dir, f), PROFILE_GROUPS)
    for (const [g, ms] of Object.entries(inc.ms)) groups[g] += ms
  }
  const top = [...agg.values()].sort((a, b) => b.selfMs - a.selfMs).slice(0, 25)
  for (const t of top) t.selfPct = busy > 0 ? (100 * t.selfMs) / busy : 0
  return { busyMs: busy, totalMs: total, top, groups, files }
}

export async function clusterScenario(s: Settings, profileDir: string | null): Promise<ClusterOutcome> {
  log('scenario 8 cluster')
  if (!redisInstalled()) {
    const skipped = 'redis-server is not installed here (`apt-get install -y redis-server`)'
    log(`  ${skipped}: skipped`)
    return { skipped }
  }
  const pg = await startBenchPostgres()
  if ('skipped' in pg) return { skipped: pg.skipped }
  let redis: RedisServer | undefined
  try {
    redis = await startRedis()
    const redisVersion = execFileSync('redis-server', ['--version']).toString().trim().replace(/^Redis server v=(\S+).*$/, 'Redis $1')
    const watch: WatchedProcess[] = []
    const rp = redisPid(redis.port)
    if (rp) watch.push({ name: 'redis', pid: rp })
    const pp = postmasterPid(pg.server)
    if (pp) watch.push({ name: 'postgres', pid: pp, children: true })
    const env: Env = { pg: pg.server, redis, watch, leaseMs: s.cluster.leaseMs }
    log(`  ${redisVersion} on port ${redis.port}; --lease-ms ${env.leaseMs}`)

    const runs: Record<ClusterRunKind, LoadResult[]> = { single: [], cluster: [], partitioned: [] }
    const kinds: ClusterRunKind[] = ['single', 'cluster', 'partitioned']
    const label: Record<ClusterRunKind, string> = { single: 'one node', cluster: 'two nodes, clients of every room split', partitioned: 'two nodes, each room on one' }
    const order: ClusterRunKind[][] = []
    for (let i = 0; i < s.cluster.loadRounds; i++) {
      // The order rotates from round to round, so drift of the shared machine favours no kind.
      const round = kinds.map((_, j) => kinds[(i + j) % kinds.length])
      order.push(round)
      for (const kind of round) {
        log(`  round ${i + 1}: ${label[kind]}`)
        const r = await run(env, s, kind)
        runs[kind].push(r)
        log(`    ${brief(r)}`)
        log(`    ${clusterBrief(r)}`)
      }
    }
    const withRedis = (list: LoadResult[]) =>
      list.reduce((n, r) => n + r.serverCpuSec + (r.watchedCpuSec?.redis ?? 0), 0) / (list.reduce((n, r) => n + r.delivered, 0) / 1000)
    const result: ClusterResult = {
      leaseMs: env.leaseMs,
      warmupMs: s.cluster.warmupMs,
      ...runs,
      order,
      ratio: cpuPer1000(runs.cluster) / cpuPer1000(runs.single),
      ratioWithRedis: withRedis(runs.cluster) / cpuPer1000(runs.single),
      ratioPartitioned: cpuPer1000(runs.partitioned) / cpuPer1000(runs.single),
      failover: { rounds: [], clients: s.cluster.failoverClients, hz: s.cluster.failoverHz },
      postgres: { version: pg.version, settings: benchPgSettingsText() },
      redis: redisVersion,
    }
    log(`  two nodes ÷ one node, CPU per 1,000 deliveries: ${result.ratio.toFixed(3)} (with Redis: ${result.ratioWithRedis.toFixed(3)}; rooms not shared: ${result.ratioPartitioned.toFixed(3)})`)

    log(`  failover: ${s.cluster.failoverRounds} rounds`)
    result.failover.rounds = await failover(env, s)
    const times = result.failover.rounds.flatMap((r) => (r.ms === null ? [] : [r.ms]))
    log(`  failover p50 ${percentile(times, 50).toFixed(0)} ms, p99 ${percentile(times, 99).toFixed(0)} ms (${times.length}/${result.failover.rounds.length} rounds)`)

    // Where two nodes' CPU goes (full runs, when the target is missed).
    if (profileDir && result.ratio > CLUSTER_CPU_TARGET) {
      log('  profiling both nodes under the standard load (--cpu-prof)')
      const dir = join(profileDir, 'cluster')
      rmSync(dir, { recursive: true, force: true })
      mkdirSync(dir, { recursive: true })
      const r = await run(env, s, 'cluster', dir)
      const h = combinedProfile(dir)
      result.profile = {
        title: 'yroom cluster, both nodes added up, standard load, `node --cpu-prof`',
        note:
          `Both node processes (startup, connect, warm-up, window, drain): ${(h.totalMs / 1000).toFixed(1)} s sampled, ${(h.busyMs / 1000).toFixed(1)} s busy; ` +
          `in the window the two used ${r.serverCpuSec.toFixed(2)} s of CPU (all threads, from /proc), ${((r.serverCpuSec / (r.delivered / 1000)) * 1000).toFixed(3)} ms per 1,000 deliveries. ` +
          `Time including callees, as % of busy time (groups overlap): ${Object.entries(h.groups)
            .map(([g, ms]) => `${g} ${((100 * ms) / h.busyMs).toFixed(1)}%`)
            .join('; ')}. ` +
          'The profiler samples wall time of the main thread: a write that wakes Redis or a client on this 2-core machine can be descheduled inside the syscall, so native write functions weigh more here than in /proc CPU time. ' +
          `Self time of the top functions, as % of busy time. Profiles (not committed): ${h.files.map((f) => `\`${join('test/bench/results/profiles/cluster', f)}\``).join(', ')}.`,
        busyMs: h.busyMs,
        top: h.top,
      }
    }
    return result
  } finally {
    await redis?.stop()
    await pg.server.stop()
  }
}

/** Two nodes may use at most this many times one node's CPU per delivery. */
export const CLUSTER_CPU_TARGET = 1.3
