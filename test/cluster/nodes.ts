/**
 * yroom nodes as child processes (`yroom serve` through tsx), so that cluster tests can
 * kill -9, SIGSTOP and SIGCONT them the way machines fail. Every node started is killed
 * when the test process exits.
 */
import { spawn } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort } from '../free-port.js'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const live = new Set<number>()
process.once('exit', () => {
  for (const pid of live) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // gone already
    }
  }
})

export interface NodeProcess {
  name: string
  port: number
  url: string
  httpUrl: string
  pid: number
  exited: Promise<number | null>
  kill9(): Promise<void>
  stop(): void
  cont(): void
  close(): Promise<void>
  output(): string
}

export interface NodeOptions {
  name: string
  data: string
  redis?: string
  leaseMs?: number
  extraArgs?: string[]
  env?: Record<string, string>
}

export async function startNode(o: NodeOptions): Promise<NodeProcess> {
  const port = await freePort()
  const args = ['--import', 'tsx', join(ROOT, 'server/cli.ts'), 'serve', '--port', String(port), '--host', '127.0.0.1', '--data', o.data, '--node-id', o.name, '--log-level', 'warn']
  if (o.redis) args.push('--redis', o.redis)
  if (o.leaseMs !== undefined) args.push('--lease-ms', String(o.leaseMs))
  args.push(...(o.extraArgs ?? []))
  const proc = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...o.env } })
  const pid = proc.pid!
  live.add(pid)
  let out = ''
  const keep = (d: Buffer) => {
    out += d.toString()
    if (out.length > 200_000) out = out.slice(-100_000)
  }
  proc.stdout!.on('data', keep)
  proc.stderr!.on('data', keep)
  const exited = new Promise<number | null>((resolve) =>
    proc.once('exit', (code) => {
      live.delete(pid)
      resolve(code)
    }),
  )
  const httpUrl = `http://127.0.0.1:${port}`
  const deadline = performance.now() + 20_000
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`node ${o.name} exited (${proc.exitCode}) before listening:\n${out}`)
    const ok = await fetch(`${httpUrl}/healthz`).then(
      (r) => r.status === 200,
      () => false,
    )
    if (ok) break
    if (performance.now() > deadline) {
      proc.kill('SIGKILL')
      throw new Error(`node ${o.name} did not answer /healthz in 20 s:\n${out}`)
    }
    await new Promise((r) => setTimeout(r, 50))
  }
  const signal = (s: NodeJS.Signals) => {
    if (proc.exitCode === null) proc.kill(s)
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
      const t = setTimeout(() => signal('SIGKILL'), 5000)
      await exited
      clearTimeout(t)
    },
    output: () => out,
  }
}
