/**
 * `yroom serve` in a child process for the fuzzer (like test/child-server.ts, but on a port
 * kept across restarts, with logs at warn and both streams scanned line by line without
 * keeping them): a crash shows up as the process exiting, errors in its logs as findings.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export { freePort } from '../free-port.js'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')


/** A log line or stderr text that is a finding (an error the server logged, a crash trace). */
export interface LogProblem {
  source: 'stdout' | 'stderr'
  text: string
}

/** stderr text that is not a problem (Node's notices). */
const BENIGN_STDERR = /ExperimentalWarning|--trace-warnings|^\s*$/

/** What in a warn-level line still marks a problem. */
const BAD_TEXT = /uncaught|unhandled|fatal|maximum call stack|flush failed|storage append failed|compaction failed|could not undo|judging an update failed/i

export class ServerProcess {
  proc!: ChildProcess
  exited!: Promise<number | string>
  exitCode: number | string | null = null
  readonly problems: LogProblem[] = []
  warnLines = 0
  private stdoutTail: string[] = []
  private stderrTail = ''

  constructor(
    readonly port: number,
    readonly dataDir: string,
    private readonly extraArgs: string[] = [],
  ) {}

  get url(): string {
    return `ws://127.0.0.1:${this.port}`
  }

  get pid(): number {
    return this.proc.pid ?? -1
  }

  async start(): Promise<void> {
    this.exitCode = null
    const args = ['--import', 'tsx', join(ROOT, 'server/cli.ts'), 'serve', '--port', String(this.port), '--host', '127.0.0.1', '--data', this.dataDir, '--log-level', 'warn', ...this.extraArgs]
    const proc = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    this.proc = proc
    this.exited = new Promise((resolve) =>
      proc.once('exit', (code, signal) => {
        this.exitCode = code ?? signal ?? -1
        resolve(this.exitCode)
      }),
    )
    let partial = ''
    let listening: ((port: number) => void) | null = null
    const ready = new Promise<number>((resolve) => (listening = resolve))
    proc.stdout!.setEncoding('utf8')
    proc.stdout!.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n')
      partial = lines.pop() ?? ''
      if (partial.length > 1_000_000) partial = partial.slice(-100_000)
      for (const line of lines) this.onStdoutLine(line, listening)
    })
    proc.stderr!.setEncoding('utf8')
    proc.stderr!.on('data', (chunk: string) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-64 * 1024)
      if (!BENIGN_STDERR.test(chunk)) this.problems.push({ source: 'stderr', text: chunk.slice(0, 4000) })
    })
    const started = await Promise.race([ready, this.exited.then((c) => new Error(`server exited (${c}) before listening: ${this.stderrTail.slice(-2000)}`))])
    if (started instanceof Error) throw started
  }

  private onStdoutLine(line: string, listening: ((port: number) => void) | null): void {
    if (line.length === 0) return
    if (listening && /listening on ws:\/\/localhost:(\d+)/.test(line)) listening(this.port)
    this.stdoutTail.push(line.length > 2000 ? line.slice(0, 2000) + '…' : line)
    if (this.stdoutTail.length > 40) this.stdoutTail.shift()
    // pino JSON: "level":40 warn, 50 error, 60 fatal
    const m = /"level":(\d+)/.exec(line)
    const level = m ? Number(m[1]) : 0
    if (level === 40) this.warnLines++
    if (level >= 50 || (level === 0 && !line.startsWith('yroom listening')) || BAD_TEXT.test(line)) {
      this.problems.push({ source: 'stdout', text: line.slice(0, 4000) })
    }
  }

  /** The last lines of output, for a crash report. */
  tail(): string {
    return `stdout:\n${this.stdoutTail.slice(-15).join('\n')}\nstderr:\n${this.stderrTail.slice(-4000)}`
  }

  /** Resident set size in MB (Linux /proc), or -1. */
  rssMb(): number {
    try {
      const status = readFileSync(`/proc/${this.pid}/status`, 'utf8')
      const m = /VmRSS:\s+(\d+) kB/.exec(status)
      return m ? Number(m[1]) / 1024 : -1
    } catch {
      return -1
    }
  }

  get alive(): boolean {
    return this.exitCode === null
  }

  /** Stops the process: SIGTERM (a clean shutdown, bounded by `timeoutMs`) or SIGKILL. */
  async stop(signal: NodeJS.Signals, timeoutMs = 15_000): Promise<{ code: number | string; timedOut: boolean }> {
    if (!this.alive) return { code: this.exitCode!, timedOut: false }
    this.proc.kill(signal)
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)))
    const r = await Promise.race([this.exited, timeout])
    clearTimeout(timer)
    if (r === 'timeout') {
      this.proc.kill('SIGKILL')
      return { code: await this.exited, timedOut: true }
    }
    return { code: r, timedOut: false }
  }
}
