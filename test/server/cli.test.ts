/** The `yroom serve` command line. */
import { afterEach, describe, expect, it } from 'vitest'
import { execFile } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import WebSocket from 'ws'
import { connectProvider, until } from '../helpers.js'
import { killAll, startCli } from './fixtures/cli.js'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
afterEach(() => killAll())

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', join(ROOT, 'server', 'cli.ts'), ...args], { cwd: ROOT }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    )
  })
}

describe('cli', () => {
  it('--help prints the usage and exits 0; no command exits 2', async () => {
    const help = await run(['serve', '--help'])
    expect(help.code).toBe(0)
    expect(help.stdout).toMatch(/usage: yroom serve/)
    expect(help.stdout).toMatch(/--tick-ms/)
    expect((await run([])).code).toBe(2)
  })

  it('a bad flag value exits 2 with a message', async () => {
    const r = await run(['serve', '--tick-ms', 'soon'])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/--tick-ms must be a non-negative integer/)
  })

  it('bad input never takes the process down', async () => {
    const p = await startCli(['--data', ':memory:', '--max-message-bytes', '1000'])
    const reader = await connectProvider(p.url, 'bad')
    const bad: Array<Uint8Array | string> = [new Uint8Array([0xff, 0xff, 0xff]), new Uint8Array([0, 2, 0x80]), new Uint8Array(0), 'text', new Uint8Array(5000), new Uint8Array(50_000)]
    for (const b of bad) {
      const ws = new WebSocket(`${p.url}/bad`)
      await new Promise((r) => ws.once('open', r))
      const closed = new Promise((r) => ws.once('close', r))
      ws.send(b)
      await closed
    }
    await new Promise((r) => new WebSocket(`${p.url}/${'x'.repeat(600)}`).once('close', r))
    expect(p.proc.exitCode).toBe(null)
    expect((await fetch(`http://127.0.0.1:${p.port}/healthz`)).status).toBe(200)
    const writer = await connectProvider(p.url, 'bad')
    writer.doc.getMap('m').set('still', 'serving')
    await until(() => reader.doc.getMap('m').get('still') === 'serving')
    reader.destroy()
    writer.destroy()
  })

  it("/metrics has Node's process metrics by default; --no-process-metrics leaves them out, not yroom's own", async () => {
    const metricsOf = async (args: string[]) => {
      const p = await startCli(['--data', ':memory:', ...args])
      const text = await (await fetch(`http://127.0.0.1:${p.port}/metrics`)).text()
      p.proc.kill('SIGINT')
      await p.exited
      return text
    }
    const [withProcess, without] = await Promise.all([metricsOf([]), metricsOf(['--no-process-metrics'])])
    for (const text of [withProcess, without]) expect(text).toMatch(/^yroom_connections 0$/m)
    expect(withProcess).toMatch(/^nodejs_eventloop_lag_p99_seconds /m)
    expect(withProcess).toMatch(/^process_cpu_user_seconds_total /m)
    expect(without).not.toMatch(/^nodejs_|^process_/m)
  })

  it('serves with --data :memory: and the flags given; SIGINT stops it cleanly', async () => {
    const p = await startCli(['--data', ':memory:', '--tick-ms', '0', '--idle-shutdown-ms', '100'])
    const health = await fetch(`http://127.0.0.1:${p.port}/healthz`)
    expect(health.status).toBe(200)
    const a = await connectProvider(p.url, 'cli-room')
    const b = await connectProvider(p.url, 'cli-room')
    a.doc.getMap('m').set('x', 1)
    await until(() => b.doc.getMap('m').get('x') === 1)
    a.destroy()
    b.destroy()
    p.proc.kill('SIGINT')
    expect(await p.exited).toEqual({ code: 0, signal: null })
  })
})
