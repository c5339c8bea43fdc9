/** Per-process CPU and memory from Linux /proc (servers run as separate processes). */
import { readFileSync } from 'node:fs'
import { execFileSync } from 'node:child_process'

let clkTck = 0
function ticksPerSecond(): number {
  if (clkTck === 0) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100
    } catch {
      clkTck = 100
    }
  }
  return clkTck
}

/** User + system CPU seconds consumed by `pid` so far. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1')
  // Fields after the parenthesised command name (which may contain spaces).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const utime = Number(fields[11])
  const stime = Number(fields[12])
  return (utime + stime) / ticksPerSecond()
}

export interface Memory {
  /** Resident set size, MB. */
  rssMB: number
  /** Peak resident set size, MB. */
  hwmMB: number
}

export function memory(pid: number): Memory {
  const status = readFileSync(`/proc/${pid}/status`, 'latin1')
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN)
  return { rssMB: kb('VmRSS') / 1024, hwmMB: kb('VmHWM') / 1024 }
}
