/**
 * yroom nodes as child processes (`yroom serve` through tsx, like test/fuzz/server-process.ts),
 * so that cluster tests can kill -9, SIGSTOP and SIGCONT them the way machines fail.
 *
 *   const a = await startNode({ name: 'a', data: db.url, redis: redis.url, leaseMs: 2000 })
 *   a.url              // ws://127.0.0.1:PORT
 *   a.stop(); a.cont() // SIGSTOP, SIGCONT
 *   await a.kill9()
 *   await a.close()    // SIGTERM (SIGKILL after 5 s)
 *
 * No node outlives the test process: an exit handler kills every node still running, and a
 * watchdog (a detached `sh`, one per node) kills it if the test process dies without running
 * its exit handlers (a vitest worker killed by a signal). SIGKILL also ends a stopped node.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort } from '../free-port.js'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const START_TIMEOUT_MS = 20_000
const CLOSE_TIMEOUT_MS = 5000
const OUTPUT_KEEP = 200_000

/** Nodes still running, killed at process exit. */
const live = new Set<ChildProcess>()
process.once('exit', () => {
  for (const proc of live) proc.kill('SIGKILL')
})

/**
 * Once the test process ($1) is gone, kill -9 the node ($2); ends by itself when the node
 * exits first (so a reused pid is never killed).
 */
const WATCHDOG = 'while kill -0 "$1" 2>/dev/null && kill -0 "$2" 2>/dev/null; do sleep 0.5; done; kill -0 "$1" 2>/dev/null || kill -9 "$2" 2>/dev/null'

function startWatchdog(pid: number): ChildProcess {
  const w = spawn('sh', ['-c', WATCHDOG, 'yroom-node-watchdog', String(process.pid), String(pid)], { stdio: 'ignore', detached: true })
  w.unref()
  return w
}

export interface NodeProcess {
  /** The node id (`--node-id`). */
  name: string
  port: number
  /** ws://127.0.0.1:PORT */
  url: string
  /** http://127.0.0.1:PORT (/healthz, /metrics) */
  httpUrl: string
  pid: number
  /** Resolves when the process has exited: its exit code, or null when a signal ended it. */
  exited: Promise<number | null>
  /** SIGKILL; resolves once it has exited. */
  kill9(): Promise<void>
  /** SIGSTOP: the node stalls (a frozen machine). */
  stop(): void
  /** SIGCONT after stop(). */
  cont(): void
  /** SIGCONT + SIGTERM (a clean shutdown), SIGKILL after 5 s; resolves once it has exited. */
  close(): Promise<void>
  /** stdout and stderr so far (the last 200 kB), for failure messages. */
  output(): string
}

export interface NodeOptions {
  /** The node id (`--node-id`), also the name in failure messages. */
  name: string
  /** `--data`: a directory, `:memory:`, or a postgres:// URL (shared by the nodes of a cluster). */
  data: string
  /** `--redis URL` */
  redis?: string
  /** `--lease-ms N` */
  leaseMs?: number
  /** More `yroom serve` flags, appended last. */
  extraArgs?: string[]
  /** Environment on top of this process's. */
  env?: Record<string, string>
}

/**
 * Starts `yroom serve` on a free port and resolves once it has printed its listening line
 * and GET /healthz answers 200 (within 20 s; the error carries the node's output).
 */
export async function startNode(o: NodeOptions): Promise<NodeProcess> {
  // A free port can be taken before the node binds it: try a few.
  for (let attempt = 1; ; attempt++) {
    try {
      return await launch(o, await freePort())
    } catch (err) {
      if (attempt >= 3 || !(err instanceof PortTaken)) throw err
    }
  }
}

class PortTaken extends Error {}

/** GET /healthz answers 200. */
function healthy(httpUrl: string): Promise<boolean> {
  return fetch(`${httpUrl}/healthz`, { signal: AbortSignal.timeout(2000) }).then(
    async (r) => {
      await r.body?.cancel()
      return r.status === 200
    },
    () => false,
  )
}

async function launch(o: NodeOptions, port: number): Promise<NodeProcess> {
  const args = ['--import', 'tsx', join(ROOT, 'server/cli.ts'), 'serve', '--port', String(port), '--host', '127.0.0.1', '--data', o.data, '--node-id', o.name, '--log-level', 'warn']
  if (o.redis) args.push('--redis', o.redis)
  if (o.leaseMs !== undefined) args.push('--lease-ms', String(o.leaseMs))
  args.push(...(o.extraArgs ?? []))
  const proc = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...o.env } })
  const pid = proc.pid ?? -1
  if (proc.pid !== undefined) live.add(proc)
  const watchdog = proc.pid === undefined ? undefined : startWatchdog(proc.pid)
  let out = ''
  // cli.ts prints this once it listens: then the port is this node's, not another process's.
  const listeningLine = `yroom listening on ws://localhost:${port}`
  let listening = false
  for (const stream of [proc.stdout!, proc.stderr!]) {
    stream.setEncoding('utf8')
    stream.on('data', (d: string) => {
      out += d
      listening ||= out.includes(listeningLine)
      if (out.length > OUTPUT_KEEP * 2) out = out.slice(-OUTPUT_KEEP)
    })
  }
  let gone = false
  const exited = new Promise<number | null>((resolve) => {
    const end = (code: number | null) => {
      if (gone) return
      gone = true
      live.delete(proc)
      watchdog?.kill('SIGKILL')
      resolve(code)
    }
    proc.once('exit', end)
    proc.once('error', (err) => {
      out += `${err}\n`
      if (proc.pid === undefined) end(null) // not spawned: no 'exit' follows
    })
  })
  const closed = new Promise((resolve) => proc.once('close', resolve))
  const signal = (s: NodeJS.Signals) => {
    if (!gone) proc.kill(s)
  }

  const httpUrl = `http://127.0.0.1:${port}`
  const deadline = performance.now() + START_TIMEOUT_MS
  for (;;) {
    if (gone) {
      const code = await exited
      // 'exit' can come before the last output: wait for the pipes to close (briefly).
      await Promise.race([closed, new Promise((r) => setTimeout(r, 1000))])
      const message = `node ${o.name} exited (${code ?? proc.signalCode}) before it was ready:\n${out}`
      throw /EADDRINUSE/.test(out) ? new PortTaken(message) : new Error(message)
    }
    if (listening && (await healthy(httpUrl))) break
    if (performance.now() > deadline) {
      signal('SIGKILL')
      await exited
      const what = listening ? 'answer GET /healthz with 200' : `print '${listeningLine}'`
      throw new Error(`node ${o.name} did not ${what} in ${START_TIMEOUT_MS / 1000} s:\n${out}`)
    }
    await new Promise((r) => setTimeout(r, 50))
  }

  return {
    name: o.name,
    port,
    url: `ws://127.0.0.1:${port}`,
    httpUrl,
    pid,
    exited,
    async kill9() {
      signal('SIGKILL')
      await exited
    },
    stop: () => signal('SIGSTOP'),
    cont: () => signal('SIGCONT'),
    async close() {
      signal('SIGCONT')
      signal('SIGTERM')
      const t = setTimeout(() => signal('SIGKILL'), CLOSE_TIMEOUT_MS)
      await exited
      clearTimeout(t)
    },
    output: () => out,
  }
}
