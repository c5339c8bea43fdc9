/**
 * The servers under test, each started as its own process on loopback with its default
 * configuration. The harness reads the bound port from the server's stdout.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Flavor } from '../lib/framing.js'
import { stopChild, track } from '../lib/children.js'
import { freePort } from '../../free-port.js'

export const ROOT = join(import.meta.dirname, '..', '..', '..')
const WATCHDOG = join(import.meta.dirname, 'watchdog.mjs')

export type ServerId = 'yroom' | 'yroom-noauth' | 'y-websocket-server' | 'hocuspocus' | 'floor'

export interface ServerSpec {
  id: ServerId
  label: string
  flavor: Flavor
}

export const SERVERS: Record<ServerId, ServerSpec> = {
  yroom: { id: 'yroom', label: 'yroom (authority on)', flavor: 'y-websocket' },
  'yroom-noauth': { id: 'yroom-noauth', label: 'yroom (authority off)', flavor: 'y-websocket' },
  'y-websocket-server': { id: 'y-websocket-server', label: '@y/websocket-server', flavor: 'y-websocket' },
  hocuspocus: { id: 'hocuspocus', label: '@hocuspocus/server', flavor: 'hocuspocus' },
  // A reference, not a server under test: the same traffic without a document (floor.mjs).
  floor: { id: 'floor', label: 'forwarding floor (no document)', flavor: 'y-websocket' },
}

export interface StartOptions {
  /** yroom: `--data` value (default `:memory:`). */
  data?: string
  /** @y/websocket-server: YPERSISTENCE directory (y-leveldb); default none. */
  persistenceDir?: string
  /** Write a V8 CPU profile into this directory when the server exits. */
  cpuProfDir?: string
  /** yroom: more `yroom serve` flags (cluster mode: `--redis`, `--node-id`, `--lease-ms`). */
  args?: string[]
  /** yroom: `--log-level` (default `silent`); what it logs goes to the harness's stderr. */
  logLevel?: string
  /** The name its output is prefixed with on the harness's stderr (default: the server id). */
  name?: string
}

export interface RunningServer {
  spec: ServerSpec
  pid: number
  port: number
  stop(): Promise<void>
  /** SIGKILL: a crash, nothing flushed at exit. */
  kill(): Promise<void>
}


function waitForPort(child: ChildProcess, pattern: RegExp, what: string, timeoutMs = 20_000, forwardStdout = false): Promise<number> {
  return new Promise((resolve, reject) => {
    let out = ''
    let err = ''
    const t = setTimeout(() => done(new Error(`${what} did not start in ${timeoutMs} ms: ${out}${err}`)), timeoutMs)
    const onOut = (d: Buffer) => {
      out += d.toString()
      const m = pattern.exec(out)
      if (m) done(null, Number(m[1]))
    }
    const onErr = (d: Buffer) => {
      err += d.toString()
    }
    const onExit = (code: number | null) => done(new Error(`${what} exited (${code}) before listening: ${out}${err}`))
    function done(e: Error | null, port?: number) {
      clearTimeout(t)
      child.stdout?.off('data', onOut)
      child.stderr?.off('data', onErr)
      child.off('exit', onExit)
      // Keep draining output so a chatty server never blocks on a full pipe.
      const forward = (d: Buffer) => {
        const line = d.toString().trim()
        if (line) process.stderr.write(`[${what}] ${line.slice(0, 500)}\n`)
      }
      if (forwardStdout) child.stdout?.on('data', forward)
      else child.stdout?.resume()
      child.stderr?.on('data', forward)
      if (e) reject(e)
      else resolve(port!)
    }
    child.stdout?.on('data', onOut)
    child.stderr?.on('data', onErr)
    child.once('exit', onExit)
  })
}

/**
 * The Node flags `npm start` runs yroom with (package.json), so the benchmark runs yroom the
 * way its users start it: `--max-semi-space-size=64` (see docs/performance.md, "Node flags").
 */
export function yroomNodeFlags(): string[] {
  const start = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start
  const m = /^node((?:\s+--\S+)*)\s+dist\/server\/cli\.js\b/.exec(start)
  if (!m) throw new Error(`package.json start script is not "node [flags] dist/server/cli.js …": ${start}`)
  return m[1].split(/\s+/).filter(Boolean)
}

export async function startServer(id: ServerId, opts: StartOptions = {}): Promise<RunningServer> {
  const spec = SERVERS[id]
  const nodeArgs = ['--import', WATCHDOG]
  // yroom as `npm start` runs it (and the floor, its reference); the peers with Node's
  // defaults, as they ship.
  if (id.startsWith('yroom') || id === 'floor') nodeArgs.push(...yroomNodeFlags())
  if (opts.cpuProfDir) nodeArgs.push('--cpu-prof', '--cpu-prof-dir', opts.cpuProfDir)
  let args: string[]
  // Extra Node flags for experiments, e.g. YROOM_NODE_ARGS="--single-threaded-gc".
  const extra = id.startsWith('yroom') ? process.env.YROOM_NODE_ARGS : process.env.PEER_NODE_ARGS
  if (extra) nodeArgs.push(...extra.split(/\s+/).filter(Boolean))
  let pattern: RegExp
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: 'production' }
  switch (id) {
    case 'yroom':
    case 'yroom-noauth':
      // YROOM_DIST: another build of yroom (a directory in the repository), for A/B runs.
      args = [join(ROOT, process.env.YROOM_DIST ?? 'dist', 'server/cli.js'), 'serve', '--port', '0', '--host', '127.0.0.1']
      args.push('--data', opts.data ?? ':memory:', '--log-level', opts.logLevel ?? 'silent')
      if (opts.args) args.push(...opts.args)
      // Every simulated client comes from 127.0.0.1, as behind a proxy: no per-address cap.
      args.push('--max-connections-per-address', '0')
      if (id === 'yroom-noauth') args.push('--no-authority')
      // Extra flags for experiments (e.g. YROOM_BENCH_ARGS="--apply-delay-ms 0").
      if (process.env.YROOM_BENCH_ARGS) args.push(...process.env.YROOM_BENCH_ARGS.split(/\s+/).filter(Boolean))
      pattern = /listening on ws:\/\/[^:]+:(\d+)/
      break
    case 'y-websocket-server': {
      const port = await freePort()
      args = [join(ROOT, 'node_modules/@y/websocket-server/src/server.js')]
      Object.assign(env, { HOST: '127.0.0.1', PORT: String(port) })
      if (opts.persistenceDir) env.YPERSISTENCE = opts.persistenceDir
      pattern = /on port (\d+)/
      break
    }
    case 'hocuspocus':
      args = [join(import.meta.dirname, 'hocuspocus.mjs')]
      pattern = /listening on port (\d+)/
      break
    case 'floor':
      args = [join(import.meta.dirname, 'floor.mjs')]
      pattern = /listening on port (\d+)/
      break
  }
  const child = track(spawn(process.execPath, [...nodeArgs, ...args], { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] }))
  const port = await waitForPort(child, pattern, opts.name ?? spec.id, 20_000, opts.logLevel !== undefined && opts.logLevel !== 'silent')
  const kill = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve()
      child.once('exit', () => resolve())
      child.kill('SIGKILL')
    })
  return { spec, pid: child.pid!, port, stop: () => stopChild(child), kill }
}

/** Version strings of the servers, for the report. */
export function versions(): Record<string, string> {
  const v = (p: string) => (JSON.parse(readFileSync(join(ROOT, p), 'utf8')) as { version: string }).version
  return {
    yroom: v('package.json'),
    '@y/websocket-server': v('node_modules/@y/websocket-server/package.json'),
    '@hocuspocus/server': v('node_modules/@hocuspocus/server/package.json'),
    yjs: v('node_modules/yjs/package.json'),
  }
}
