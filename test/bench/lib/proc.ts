/** Per-process CPU and memory from Linux /proc (servers run as separate processes). */
import { readdirSync, readFileSync } from 'node:fs'
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

/** CPU seconds consumed by `pid` so far, all threads: in user space and in the kernel (syscalls). */
export function cpuTimes(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1')
  // Fields after the parenthesised command name (which may contain spaces).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const utime = Number(fields[11])
  const stime = Number(fields[12])
  return { user: utime / ticksPerSecond(), system: stime / ticksPerSecond() }
}

/** User + system CPU seconds consumed by `pid` so far. */
export function cpuSeconds(pid: number): number {
  const t = cpuTimes(pid)
  return t.user + t.system
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

/** Whole-machine CPU counters from /proc/stat (jiffies), to see how busy other processes keep it. */
export interface MachineSample {
  total: number
  idle: number
}

export function machineSample(): MachineSample {
  const line = readFileSync('/proc/stat', 'latin1').split('\n', 1)[0]
  const v = line.trim().split(/\s+/).slice(1).map(Number)
  // user nice system idle iowait irq softirq steal (guest time is already in user/nice)
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0)
  return { total, idle: v[3] + v[4] }
}

/** Busy cores between two samples (e.g. 1.5 = one and a half cores busy on average). */
export function busyCores(a: MachineSample, b: MachineSample, cores: number): number {
  const dt = b.total - a.total
  return dt > 0 ? ((dt - (b.idle - a.idle)) / dt) * cores : 0
}

/** The ids of `pid`'s child processes (PostgreSQL's backends under its postmaster). */
export function childPids(pid: number): number[] {
  const out: number[] = []
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'latin1')
      // Field 4 (ppid) is the second after the parenthesised command name.
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(name))
    } catch {
      // exited meanwhile
    }
  }
  return out
}

/**
 * CPU seconds of `pids` (and, with `children`, of their child processes) so far, by pid; a
 * process gone since is left out. Two samples give a window's CPU with `cpuBetween`.
 */
export function cpuSample(pids: number[], children = false): Map<number, number> {
  const all = children ? [...pids, ...pids.flatMap(childPids)] : pids
  const out = new Map<number, number>()
  for (const p of all) {
    try {
      out.set(p, cpuSeconds(p))
    } catch {
      // exited
    }
  }
  return out
}

/** CPU seconds between two samples: processes started in between count whole, ones gone by the end not at all. */
export function cpuBetween(a: Map<number, number>, b: Map<number, number>): number {
  let sum = 0
  for (const [p, t] of b) sum += t - (a.get(p) ?? 0)
  return sum
}
