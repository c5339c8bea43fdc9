/**
 * A throwaway redis-server for tests: loopback, a free port, no persistence, its own temp
 * dir; stopped and removed afterwards. `restart()` is a Redis restart that loses everything,
 * `kill()` / `start()` an outage.
 *
 *   const redis = await startRedis()
 *   redis.url          // redis://127.0.0.1:PORT
 *   await redis.stop()
 *
 * Nothing outlives the test process: an exit handler kills the server, and a watchdog (a
 * detached `sh`) kills it and removes the dir if the test process dies without running its
 * exit handlers (a vitest worker killed by a signal).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Socket } from 'node:net'
import { freePort } from './free-port.js'

/** Thrown by startRedis when redis-server is not installed. */
export class RedisNotInstalled extends Error {
  constructor() {
    super('redis-server was not found on PATH: install it with `apt-get install -y redis-server` (.ci/run does)')
    this.name = 'RedisNotInstalled'
  }
}

let installed: boolean | undefined
/** True when redis-server is on PATH (a test can skip, or fail with how to install it). */
export function redisInstalled(): boolean {
  installed ??= spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0
  return installed
}

export interface RedisServer {
  /** redis://127.0.0.1:PORT */
  url: string
  port: number
  /** Kills the server and removes its dir. Idempotent. */
  stop(): Promise<void>
  /** kill -9 and start again on the same port, empty (a restart that loses everything). */
  restart(): Promise<void>
  /** kill -9 without starting again (Redis down). */
  kill(): Promise<void>
  /** Starts it again after kill(), on the same port, empty. */
  start(): Promise<void>
}

const START_TIMEOUT_MS = 10_000
const POLL_MS = 20


/**
 * Whether the server on `port` is up and is process `pid` (not another one that took the
 * port): asks `INFO server` and reads its process_id. False when refused, closed, still
 * loading, or too slow.
 */
function answers(port: number, pid: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const s = new Socket()
    let buf = ''
    const done = (ok: boolean) => {
      s.destroy()
      resolve(ok)
    }
    s.setTimeout(1000, () => done(false))
    s.once('error', () => done(false))
    s.once('close', () => done(false))
    s.on('data', (d: Buffer) => {
      buf += d.toString('latin1')
      if (buf.startsWith('-')) done(false) // -LOADING and the like
      const m = /\r\nprocess_id:(\d+)\r\n/.exec(buf)
      if (m) done(Number(m[1]) === pid)
    })
    s.connect(port, '127.0.0.1', () => s.write('INFO server\r\n'))
  })
}

/**
 * The watchdog: once `parent` (this process) is gone, kill -9 the server `child` (if it is
 * still there) and remove the dir. Once the server exits it forgets its pid (no kill of a
 * reused pid) but keeps watching, to remove the dir. A stopped RedisServer kills it.
 */
const WATCHDOG = `
while kill -0 "$1" 2>/dev/null; do
  if [ -n "$2" ] && ! kill -0 "$2" 2>/dev/null; then set -- "$1" "" "$3"; fi
  sleep 0.5
done
if [ -n "$2" ]; then kill -9 "$2" 2>/dev/null; fi
rm -rf "$3"
`
function startWatchdog(child: number | undefined, dir: string): ChildProcess {
  const w = spawn('sh', ['-c', WATCHDOG, 'yroom-redis-watchdog', String(process.pid), String(child ?? ''), dir], { stdio: 'ignore', detached: true })
  w.unref()
  return w
}

/** Servers not stopped yet, killed at process exit. */
const live = new Set<() => void>()
process.once('exit', () => {
  for (const stopSync of live) stopSync()
})

export async function startRedis(): Promise<RedisServer> {
  if (!redisInstalled()) throw new RedisNotInstalled()
  const dir = mkdtempSync(join(tmpdir(), 'yroom-redis-'))
  let port = 0
  let proc: ChildProcess | null = null
  let exited: Promise<void> = Promise.resolve()
  let output = ''
  let watchdog: ChildProcess | null = startWatchdog(undefined, dir)
  const replaceWatchdog = (child: number | undefined) => {
    watchdog?.kill('SIGKILL')
    watchdog = startWatchdog(child, dir)
  }

  /** Starts redis-server on `port` and waits until it answers; throws with its output if it exits or times out. */
  const launch = async (): Promise<void> => {
    output = ''
    const p = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no', '--protected-mode', 'no', '--loglevel', 'warning'],
      { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
    )
    proc = p
    for (const stream of [p.stdout!, p.stderr!]) {
      stream.setEncoding('utf8')
      stream.on('data', (d: string) => (output = (output + d).slice(-8000)))
    }
    let gone = false
    exited = new Promise<void>((resolve) => {
      const end = () => {
        gone = true
        resolve()
      }
      p.once('exit', end)
      p.once('error', (err) => {
        output += String(err)
        end()
      })
    })
    const closed = new Promise((resolve) => p.once('close', resolve))
    replaceWatchdog(p.pid)
    const deadline = performance.now() + START_TIMEOUT_MS
    for (;;) {
      let problem: string | undefined
      if (gone) problem = 'exited before answering'
      else if (p.pid !== undefined && (await answers(port, p.pid))) return
      else if (performance.now() > deadline) problem = `did not answer in ${START_TIMEOUT_MS} ms`
      if (problem) {
        await kill()
        // 'exit' can come before the last output: wait for the pipes to close (briefly).
        await Promise.race([closed, new Promise((r) => setTimeout(r, 1000))])
        throw new Error(`redis-server on port ${port} ${problem}:\n${output}`)
      }
      await new Promise((r) => setTimeout(r, POLL_MS))
    }
  }

  const kill = async (): Promise<void> => {
    const p = proc
    proc = null
    if (!p) return
    p.kill('SIGKILL')
    await exited
  }

  const stopSync = () => {
    live.delete(stopSync)
    if (proc?.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL')
    proc = null
    watchdog?.kill('SIGKILL')
    watchdog = null
    rmSync(dir, { recursive: true, force: true })
  }
  live.add(stopSync)

  // A free port can be taken before redis-server binds it: try a few.
  for (let attempt = 1; ; attempt++) {
    port = await freePort()
    try {
      await launch()
      break
    } catch (err) {
      if (attempt < 3 && /address already in use/i.test(output)) continue
      stopSync()
      throw err
    }
  }

  let stopped: Promise<void> | undefined
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    kill,
    async start() {
      if (stopped) throw new Error('redis-server was stopped')
      if (proc) throw new Error('redis-server is running: kill() it first')
      await launch()
    },
    async restart() {
      if (stopped) throw new Error('redis-server was stopped')
      await kill()
      await launch()
    },
    stop() {
      stopped ??= kill().then(stopSync)
      return stopped
    },
  }
}
