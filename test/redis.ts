/**
 * A throwaway redis-server for tests: loopback, a free port, no persistence, its own temp
 * dir; stopped and removed afterwards. A watchdog process kills it if the test process dies
 * without stopping it. `restart()` is a Redis restart that loses everything, `kill()` /
 * `start()` an outage.
 *
 *   const redis = await startRedis()
 *   redis.url          // redis://127.0.0.1:PORT
 *   await redis.stop()
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Socket } from 'node:net'
import { freePort } from './free-port.js'

export class RedisNotInstalled extends Error {
  constructor() {
    super('redis-server was not found on PATH: install it with `apt-get install -y redis-server` (.ci/run does)')
    this.name = 'RedisNotInstalled'
  }
}

let installed: boolean | undefined
export function redisInstalled(): boolean {
  installed ??= spawnSync('redis-server', ['--version']).status === 0
  return installed
}

export interface RedisServer {
  url: string
  port: number
  stop(): Promise<void>
  /** kill -9 and start again on the same port, empty (a restart that loses everything). */
  restart(): Promise<void>
  /** Stops it without starting again (Redis down). */
  kill(): Promise<void>
  /** Starts it again after kill(), on the same port, empty. */
  start(): Promise<void>
}

/** Resolves once the server answers PING on `port`. */
async function answers(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = new Socket()
      let buf = ''
      s.once('error', () => resolve(false))
      s.connect(port, '127.0.0.1', () => s.write('PING\r\n'))
      s.on('data', (d) => {
        buf += d.toString()
        if (buf.includes('\r\n')) {
          s.destroy()
          resolve(buf.startsWith('+PONG'))
        }
      })
    })
    if (ok) return
    if (performance.now() > deadline) throw new Error(`redis-server on port ${port} did not answer in ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

export async function startRedis(): Promise<RedisServer> {
  if (!redisInstalled()) throw new RedisNotInstalled()
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'yroom-redis-'))
  let proc: ChildProcess | null = null
  let watchdog: ChildProcess | null = null
  const launch = async () => {
    proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no', '--protected-mode', 'no', '--loglevel', 'warning'], {
      stdio: 'ignore',
    })
    // If this process dies without stopping the server, the watchdog (its own process) does.
    watchdog?.kill()
    watchdog = spawn('sh', ['-c', `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; kill -9 ${proc.pid} 2>/dev/null; rm -rf '${dir}'`], { stdio: 'ignore', detached: true })
    watchdog.unref()
    await answers(port)
  }
  const kill = async () => {
    const p = proc
    proc = null
    if (!p || p.exitCode !== null) return
    const exited = new Promise((r) => p.once('exit', r))
    p.kill('SIGKILL')
    await exited
  }
  await launch()
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    kill,
    start: launch,
    async restart() {
      await kill()
      await launch()
    },
    async stop() {
      await kill()
      watchdog?.kill()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
