/**
 * Every process the harness starts is registered here and killed when the harness exits,
 * fails or is interrupted. Servers additionally preload servers/watchdog.mjs, which makes
 * them exit when the harness's stdin pipe closes (covers a SIGKILLed harness too).
 */
import type { ChildProcess } from 'node:child_process'

const children = new Set<ChildProcess>()
let installed = false

export function track<T extends ChildProcess>(child: T): T {
  children.add(child)
  child.once('exit', () => children.delete(child))
  return child
}

export function killAll(): void {
  for (const c of children) {
    try {
      c.kill('SIGKILL')
    } catch {
      // already gone
    }
  }
  children.clear()
}

export function installCleanup(): void {
  if (installed) return
  installed = true
  process.on('exit', killAll)
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      console.error(`bench: ${sig}, stopping child processes`)
      killAll()
      process.exit(130)
    })
  }
  process.on('uncaughtException', (err) => {
    console.error('bench: uncaught', err)
    killAll()
    process.exit(1)
  })
  process.on('unhandledRejection', (err) => {
    console.error('bench: unhandled rejection', err)
    killAll()
    process.exit(1)
  })
}

/** SIGTERM, then SIGKILL after `graceMs`. Resolves once the process has exited. */
export function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), graceMs)
    child.once('exit', () => {
      clearTimeout(t)
      resolve()
    })
    child.kill('SIGTERM')
  })
}
