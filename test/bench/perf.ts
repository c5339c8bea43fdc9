/**
 * Where a server's CPU goes under the standard load, kernel included: `npm run bench:perf`.
 *
 * `node --cpu-prof` (the profile in BENCHMARKS.md) samples the main thread by wall time and
 * folds syscalls into the function that makes them. This runs Linux `perf record -g` on the
 * server process for a few seconds of the steady window instead (JavaScript frames named
 * through `--perf-basic-prof`) and prints the share of each part: kernel, our code, Yjs, ws,
 * Node's own JavaScript, V8 builtins, threads other than the main one; then the hottest
 * symbols. Needs `perf` and permission to use it (root, or perf_event_paranoid ≤ 1).
 *
 *   npm run bench:perf                   yroom, authority on
 *   SERVER=hocuspocus npm run bench:perf  (or floor: the forwarding floor, no document)
 *   ROOMS=20 SECONDS=5 npm run bench:perf
 *   KEEP=1 npm run bench:perf           keep perf.data and the symbol map for `perf report`
 */
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { installCleanup } from './lib/children.js'
import { runLoadgen } from './lib/loadgen.js'
import { settings } from './scenarios/common.js'
import { startServer, type ServerId } from './servers/servers.js'

/** Buckets a perf symbol line into a part of the process. */
function partOf(symbol: string): string {
  if (symbol.includes('[k]')) return 'kernel'
  if (/dist\/(server|src)\//.test(symbol)) return 'yroom server code'
  if (symbol.includes('dist/plugins/')) return 'yroom plugins'
  if (symbol.includes('node_modules/yjs')) return 'yjs'
  if (symbol.includes('node_modules/lib0')) return 'lib0'
  if (symbol.includes('node_modules/ws/')) return 'ws'
  if (symbol.includes('node_modules/')) return 'other packages'
  if (symbol.includes('node:')) return "Node's JavaScript"
  if (symbol.includes('Builtins_')) return 'V8 builtins'
  if (symbol.includes('v8::')) return 'V8 internals (incl. GC)'
  if (/node::|uv_|uv__/.test(symbol)) return "Node's C++ and libuv"
  return 'other (libc, unnamed code)'
}

/** `perf report` rows: [percent, symbol]. */
function report(data: string, args: string[]): Array<[number, string]> {
  const r = spawnSync('perf', ['report', '-i', data, '--stdio', '-g', 'none', ...args], { encoding: 'utf8', maxBuffer: 64 << 20 })
  return r.stdout
    .split('\n')
    .map((line) => /^\s+([\d.]+)%\s+(.*)$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => [Number(m[1]), m[2]])
}

async function main(): Promise<void> {
  if (spawnSync('perf', ['--version']).status !== 0) throw new Error('perf is not installed (Debian: apt-get install linux-perf)')
  installCleanup()
  const id = (process.env.SERVER ?? 'yroom') as ServerId
  const seconds = Number(process.env.SECONDS ?? 5)
  const s = settings(false)
  const load = { ...s.standard, rooms: Number(process.env.ROOMS ?? s.standard.rooms), measureMs: (seconds + 4) * 1000 }
  const dir = mkdtempSync(join(tmpdir(), 'yroom-perf-'))
  const data = join(dir, 'perf.data')
  // --perf-basic-prof also starts V8's log, by default a file in the server's working
  // directory (the repository): keep it with the perf data, which is removed at the end.
  const nodeArgs = `--perf-basic-prof --logfile=${join(dir, 'v8.log')} --no-logfile-per-isolate`
  process.env[id.startsWith('yroom') ? 'YROOM_NODE_ARGS' : 'PEER_NODE_ARGS'] = nodeArgs
  const server = await startServer(id)
  try {
    const loaded = runLoadgen({ flavor: server.spec.flavor, host: '127.0.0.1', port: server.port, serverPid: server.pid, ...load, offendersPerRoom: 0, roomPrefix: 'perf' })
    await new Promise((r) => setTimeout(r, load.warmupMs + 2000))
    const perf = spawn('perf', ['record', '-g', '-F', '999', '-p', String(server.pid), '-o', data, '--', 'sleep', String(seconds)], { stdio: 'ignore' })
    const code = await new Promise<number | null>((r) => perf.once('exit', r))
    if (code !== 0) throw new Error(`perf record exited with ${code} (permission? see perf_event_paranoid)`)
    const result = await loaded
    console.log(`${id}, ${load.rooms} rooms × ${load.clientsPerRoom} clients × ${load.hz} Hz: ${(result.cpuPer1000 * 1000).toFixed(3)} ms CPU per 1,000 deliveries, ${((result.serverCpuSec / result.windowSec) * 100).toFixed(0)}% of a core; perf over ${seconds} s of it\n`)
    const rows = report(data, ['--no-children', '--sort', 'sym'])
    const parts = new Map<string, number>()
    for (const [pct, sym] of rows) parts.set(partOf(sym), (parts.get(partOf(sym)) ?? 0) + pct)
    const main = report(data, ['--no-children', '--sort', 'sym', '--tid', String(server.pid)]).reduce((n, [pct]) => n + pct, 0)
    console.log('share of the process (self time):')
    for (const [part, pct] of [...parts].sort((a, b) => b[1] - a[1])) console.log(`  ${pct.toFixed(1).padStart(5)}%  ${part}`)
    console.log(`  (main thread ${main.toFixed(1)}%, other threads — V8's compiler and GC helpers — ${(100 - main).toFixed(1)}%)\n`)
    console.log('hottest symbols (self):')
    for (const [pct, sym] of rows.slice(0, 25)) console.log(`  ${pct.toFixed(2).padStart(5)}%  ${sym.replace(/^\[[.k]\]\s+/, '').replace(/(?:file:\/\/)?\/\S*?\/(dist|node_modules)\//, '$1/')}`)
  } finally {
    await server.stop()
    if (process.env.KEEP) {
      console.log(`\nkept: perf report -i ${data} (symbols: /tmp/perf-${server.pid}.map)`)
      return
    }
    rmSync(dir, { recursive: true, force: true })
    // The symbol map V8 writes for perf (one per process, in /tmp).
    rmSync(`/tmp/perf-${server.pid}.map`, { force: true })
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error((err as Error).message)
    process.exit(1)
  },
)
