/**
 * The real CLI in a child process (`yroom serve`), for tests that kill -9 or SIGTERM the
 * server. Runs the TypeScript sources through tsx so no build step is needed.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')

export interface ChildServer {
  proc: ChildProcess
  port: number
  url: string
  /** Resolves with the exit code (or signal name) once the process ended. */
  exited: Promise<number | string>
  kill(signal?: NodeJS.Signals): Promise<number | string>
}

export async function startChildServer(args: string[]): Promise<ChildServer> {
  const proc = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'server/cli.ts'), 'serve', '--port', '0', '--host', '127.0.0.1', '--log-level', 'silent', ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const exited = new Promise<number | string>((resolve) => proc.once('exit', (code, signal) => resolve(code ?? signal ?? -1)))
  let stderr = ''
  proc.stderr!.on('data', (d) => (stderr += d))
  const port = await new Promise<number>((resolve, reject) => {
    let out = ''
    proc.stdout!.on('data', (d) => {
      out += d
      const m = /listening on ws:\/\/localhost:(\d+)/.exec(out)
      if (m) resolve(Number(m[1]))
    })
    void exited.then((code) => reject(new Error(`server exited (${code}) before listening: ${stderr}`)))
  })
  return {
    proc,
    port,
    url: `ws://127.0.0.1:${port}`,
    exited,
    kill(signal = 'SIGKILL') {
      proc.kill(signal)
      return exited
    },
  }
}
