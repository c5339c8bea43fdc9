/**
 * `npm run bench [-- --quick] [-- --only 1,3] [-- --no-build] [-- --out FILE]`
 * (`--only` takes scenario numbers, or names: fanout, capacity, authority, rejection, cold,
 * storage, memory, cluster, b4)
 * `npm run bench -- --from-json test/bench/results/results.json`: re-render a report only.
 * `npm run bench -- --only 5,6 --merge test/bench/results/results.json`: measure some scenarios
 * again and merge them into an earlier full run's results (the report says which, and when).
 *
 * Builds yroom, then runs the scenarios of issue 7 against yroom (authority on and off),
 * @y/websocket-server and Hocuspocus, each server a separate process on loopback, the load
 * generator another one, and writes BENCHMARKS.md (+ the capacity chart and raw JSON).
 * Scenario 8 (issue 24, scenarios/cluster.ts) runs two yroom nodes in cluster mode against
 * one, on a throwaway PostgreSQL and redis-server, and times failover.
 * Every child process is killed when the harness exits, fails or is interrupted.
 */
import { spawnSync, execFileSync } from 'node:child_process'
import { cpus, loadavg, release, totalmem, type } from 'node:os'
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { resolveOptions } from '../../server/options.js'
import { installCleanup } from './lib/children.js'
import { runLoadgen } from './lib/loadgen.js'
import type { LoadResult } from './loadgen/types.js'
import { hotFunctions } from './lib/profile.js'
import { ROOT, startServer, versions } from './servers/servers.js'
import { log, quietWaited, settings, waitForQuiet, type Settings } from './scenarios/common.js'
import { authorityCost, cpuVsHocuspocus, fanout } from './scenarios/fanout.js'
import { capacity, CAPACITY_SERVERS } from './scenarios/capacity.js'
import { rejectionStorm } from './scenarios/rejection.js'
import { coldLoad } from './scenarios/coldload.js'
import { storage } from './scenarios/storage.js'
import { memoryScenario } from './scenarios/memory.js'
import { clusterScenario } from './scenarios/cluster.js'
import { b4Scenario } from './scenarios/b4.js'
import { capacityChart } from './report/chart.js'
import { evaluateTargets, renderMarkdown, type BenchReport, type ProfileSummary } from './report/markdown.js'

function git(args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: ROOT }).toString().trim()
  } catch {
    return ''
  }
}

function build(): void {
  log('npm run build')
  const r = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  if (r.status !== 0) {
    process.stderr.write(r.stdout.toString() + r.stderr.toString())
    throw new Error('npm run build failed; fix the build or rerun with --no-build to bench the existing dist/')
  }
}

/** CPU profile of the yroom server under the standard load (run when a CPU target is missed). */
async function profileStandardLoad(s: Settings, dir: string): Promise<ProfileSummary> {
  log('profiling yroom (authority on) under the standard load')
  const profDir = join(dir, 'server')
  rmSync(profDir, { recursive: true, force: true })
  mkdirSync(profDir)
  const server = await startServer('yroom', { cpuProfDir: profDir })
  let load: LoadResult | undefined
  try {
    await waitForQuiet(s)
    load = await runLoadgen({
      flavor: server.spec.flavor,
      host: '127.0.0.1',
      port: server.port,
      serverPid: server.pid,
      ...s.standard,
      offendersPerRoom: 0,
      roomPrefix: 'profile',
    })
  } finally {
    await server.stop()
  }
  const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'))
  if (!file) throw new Error('the server wrote no CPU profile')
  const h = hotFunctions(join(profDir, file), ROOT, 25)
  const kernel =
    load?.serverSystemSec === undefined
      ? ''
      : ` In the measurement window the process (all threads) used ${load.serverCpuSec.toFixed(2)} s of CPU, ${((load.serverSystemSec / load.serverCpuSec) * 100).toFixed(0)}% of it in the kernel (from /proc): socket reads and writes, polling. The profiler samples the main thread only, and a native function's self time includes the syscalls it makes (\`writeBuffer\`: the socket write).`
  return {
    title: 'yroom server (authority on), standard load, `node --cpu-prof`',
    note: `Whole server process (startup, connect, warm-up, window, drain): ${(h.totalMs / 1000).toFixed(1)} s sampled, ${((h.totalMs - h.idleMs) / 1000).toFixed(1)} s busy. Self time of the top functions, as % of busy time. Profile (not committed): \`${relative(ROOT, join(profDir, file))}\`.${kernel}`,
    busyMs: h.totalMs - h.idleMs,
    top: h.top,
  }
}

/** The parts of a report each scenario fills. */
const SCENARIO_KEYS: Record<number, Array<keyof BenchReport>> = {
  1: ['fanout', 'cpu'],
  2: ['capacity', 'chartPath'],
  3: ['fanout', 'authority'],
  4: ['rejection', 'rejectionEarlier'],
  5: ['cold'],
  6: ['storage'],
  7: ['memory'],
  8: ['cluster', 'clusterSkipped'],
  9: ['b4'],
}

/** `--only` accepts these names beside the numbers. */
const SCENARIO_NAMES: Record<string, number> = { fanout: 1, capacity: 2, authority: 3, rejection: 4, cold: 5, storage: 6, memory: 7, cluster: 8, b4: 9 }

function scenarioNumber(x: string): number {
  const n = SCENARIO_NAMES[x.toLowerCase()] ?? Number(x)
  if (!SCENARIO_KEYS[n]) throw new Error(`--only: no scenario ${JSON.stringify(x)} (numbers 1–9 or ${Object.keys(SCENARIO_NAMES).join(', ')})`)
  return n
}

/** `base` (an earlier run) with scenarios `only` taken from `fresh`, and a note saying so. */
function mergeInto(base: BenchReport, fresh: BenchReport, only: number[]): BenchReport {
  const merged: BenchReport = { ...base, failures: [...base.failures], profiles: [...base.profiles] }
  const target = merged as unknown as Record<string, unknown>
  for (const n of only) {
    for (const key of SCENARIO_KEYS[n] ?? []) target[key] = fresh[key]
    merged.failures = merged.failures.filter((x) => !x.startsWith(`scenario ${n} `))
  }
  // Cold-load profiles belong to the cold-load run, cluster ones to the cluster run; the standard-load one stays with scenarios 1–3.
  const redone = (p: { title: string }) =>
    p.title.startsWith('yroom cold load') ? only.includes(5) : p.title.startsWith('yroom cluster') ? only.includes(8) : only.some((n) => n <= 3)
  merged.profiles = [...merged.profiles.filter((p) => !redone(p)), ...fresh.profiles.filter(redone)]
  merged.failures.push(...fresh.failures)
  merged.remeasured = [
    ...(base.remeasured ?? []),
    { scenarios: only, command: fresh.command, date: fresh.date, commit: fresh.commit, durationSec: fresh.durationSec, loadStart: fresh.machine.loadStart, loadEnd: fresh.machine.loadEnd },
  ]
  return merged
}

async function main(): Promise<void> {
  installCleanup()
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      'no-build': { type: 'boolean', default: false },
      out: { type: 'string' },
      'from-json': { type: 'string' },
      merge: { type: 'string' },
    },
  })
  if (values['from-json']) {
    // Re-render a report from the raw results of an earlier run (no measurement).
    const report = JSON.parse(readFileSync(resolve(values['from-json']), 'utf8')) as BenchReport
    const outFile = values.out ? resolve(values.out) : join(ROOT, 'BENCHMARKS.md')
    if (report.capacity && report.chartPath) {
      writeFileSync(join(resolve(outFile, '..'), report.chartPath), capacityChart(report.capacity, `Capacity: p99 latency vs offered load (${report.date})`))
    }
    writeFileSync(outFile, renderMarkdown(report))
    for (const t of evaluateTargets(report)) console.log(`${t.met === null ? '—' : t.met ? 'MET   ' : 'MISSED'}  ${t.target}: ${t.measured.replace(/\*\*/g, '')}`)
    return
  }
  const quick = values.quick!
  const only = values.only ? new Set(values.only.split(',').map((x) => scenarioNumber(x.trim()))) : null
  // Read first: a missing or unreadable file stops the run before anything is measured.
  const base = values.merge ? (JSON.parse(readFileSync(resolve(values.merge), 'utf8')) as BenchReport) : null
  if (base && (only === null || base.quick !== quick)) throw new Error('--merge needs --only (the scenarios to measure again), and the merged run must be quick or full alike')
  const want = (n: number) => only === null || only.has(n)
  const s = settings(quick)
  const started = Date.now()
  const resultsDir = join(ROOT, 'test/bench/results', quick ? 'quick' : '')
  const profileDir = join(ROOT, 'test/bench/results/profiles')
  mkdirSync(resultsDir, { recursive: true })
  mkdirSync(profileDir, { recursive: true })
  const outFile = values.out ? resolve(values.out) : quick ? join(resultsDir, 'BENCHMARKS.md') : join(ROOT, 'BENCHMARKS.md')

  if (!values['no-build']) build()
  const loadStart = loadavg()
  let report: BenchReport = {
    quick,
    command: `npm run bench${process.argv.length > 2 ? ' -- ' + process.argv.slice(2).join(' ') : ''}`,
    date: new Date().toISOString().replace('T', ' ').slice(0, 16) + ' UTC',
    durationSec: 0,
    machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, memGB: totalmem() / 2 ** 30, os: `${type()} ${release()}`, node: process.version, loadStart, loadEnd: [] },
    commit: git(['rev-parse', '--short', 'HEAD']) + (git(['status', '--porcelain', '--', 'server', 'plugins', 'src']) ? ' (server/plugins/src had uncommitted changes)' : ''),
    versions: versions(),
    settings: s,
    tickMs: resolveOptions({}).tickMs,
    profiles: [],
    chartPath: null,
    failures: [],
  }
  const attempt = async (name: string, fn: () => Promise<void>) => {
    try {
      await fn()
    } catch (err) {
      log(`${name} FAILED: ${(err as Error).stack ?? err}`)
      report.failures.push(`${name}: ${(err as Error).message.split('\n')[0]}`)
    }
  }

  if (want(1) || want(3)) await attempt('scenario 1 (fan-out)', async () => void (report.fanout = await fanout(s)))
  if (want(1) && report.fanout) await attempt('scenario 1 (CPU vs Hocuspocus)', async () => void (report.cpu = await cpuVsHocuspocus(s, report.fanout!)))
  if (want(3) && report.fanout) await attempt('scenario 3 (authority on vs off)', async () => void (report.authority = await authorityCost(s, report.fanout!)))
  if (want(4)) {
    await attempt('scenario 4 (rejection storm)', async () => {
      const { result, earlier } = await rejectionStorm(s, report.tickMs + 10)
      report.rejection = result
      report.rejectionEarlier = earlier
    })
  }
  if (want(2)) {
    await attempt('scenario 2 (capacity)', async () => {
      report.capacity = await capacity(s, CAPACITY_SERVERS)
      const chart = join(resultsDir, 'capacity.svg')
      writeFileSync(chart, capacityChart(report.capacity, `Capacity: p99 latency vs offered load (${report.date})`))
      report.chartPath = relative(join(outFile, '..'), chart)
    })
  }
  if (want(5)) await attempt('scenario 5 (cold load)', async () => void (report.cold = await coldLoad(s, quick ? null : profileDir)))
  if (want(6)) await attempt('scenario 6 (storage)', async () => void (report.storage = await storage(s)))
  if (want(7)) await attempt('scenario 7 (memory)', async () => void (report.memory = await memoryScenario(s)))
  if (want(8)) {
    await attempt('scenario 8 (cluster)', async () => {
      const c = await clusterScenario(s, quick ? null : profileDir)
      if ('skipped' in c) report.clusterSkipped = c.skipped
      else report.cluster = c
    })
  }

  if (want(9)) {
    await attempt('scenario 9 (B4 editing trace)', async () => {
      report.b4 = await b4Scenario(s)
      for (const e of report.b4.diskErrors) report.failures.push(`scenario 9 (B4 disk): ${e}`)
    })
  }

  // Profiles that explain missed targets (full runs only: they take time).
  const missed = evaluateTargets(report).filter((t) => t.met === false)
  if (!quick && missed.some((t) => t.target.startsWith('Server CPU') || t.target.startsWith('Capacity'))) {
    await attempt('profile (standard load)', async () => void report.profiles.push(await profileStandardLoad(s, profileDir)))
  }
  if (report.cluster?.profile) report.profiles.push(report.cluster.profile)
  for (const p of report.cold?.profiles ?? []) {
    const h = hotFunctions(p.file, ROOT, 20)
    report.profiles.push({
      title: `yroom cold load, ${p.what === 'log' ? `raw log of ${p.updates} entries` : p.what === 'server' ? 'history as the server stores it' : 'compacted log'} (node:inspector around \`rooms.open\`)`,
      note: `${(h.totalMs / 1000).toFixed(2)} s sampled. Profile (not committed): \`${relative(ROOT, p.file)}\`.`,
      busyMs: h.totalMs - h.idleMs,
      top: h.top,
    })
  }

  report.machine.loadEnd = loadavg()
  report.durationSec = (Date.now() - started) / 1000
  report.quietWaitSec = quietWaited() / 1000
  if (base && only) report = mergeInto(base, report, [...only].sort((a, b) => a - b))
  writeFileSync(outFile, renderMarkdown(report))
  writeFileSync(join(resultsDir, 'results.json'), JSON.stringify(report, null, 1))
  log(`wrote ${relative(process.cwd(), outFile)} in ${report.durationSec.toFixed(0)} s`)
  for (const t of evaluateTargets(report)) console.log(`${t.met === null ? '—' : t.met ? 'MET   ' : 'MISSED'}  ${t.target}: ${t.measured.replace(/\*\*/g, '')}`)
  if (report.failures.length) {
    console.log(`failed scenarios: ${report.failures.join('; ')}`)
    process.exitCode = 1
  }
}

main().catch((err) => {
  console.error('bench:', err instanceof Error ? err.message : err)
  process.exit(1)
})
