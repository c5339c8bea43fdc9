/** Summarises a V8 `.cpuprofile` (from `node --cpu-prof`): functions by self time. */
import { readFileSync } from 'node:fs'
import { relative } from 'node:path'

interface CallFrame {
  functionName: string
  url: string
  lineNumber: number
}
interface ProfileNode {
  id: number
  callFrame: CallFrame
  children?: number[]
}
interface CpuProfile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

export interface HotFunction {
  name: string
  where: string
  selfMs: number
  selfPct: number
}

export function hotFunctions(file: string, root: string, top = 15): { totalMs: number; idleMs: number; top: HotFunction[] } {
  const prof = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile
  const byId = new Map(prof.nodes.map((n) => [n.id, n]))
  const self = new Map<number, number>()
  for (let i = 0; i < prof.samples.length; i++) {
    self.set(prof.samples[i], (self.get(prof.samples[i]) ?? 0) + (prof.timeDeltas[i] ?? 0))
  }
  const agg = new Map<string, { name: string; where: string; us: number }>()
  let total = 0
  let idle = 0
  for (const [id, us] of self) {
    const f = byId.get(id)!.callFrame
    total += us
    if (f.functionName === '(idle)') {
      idle += us
      continue
    }
    const url = f.url.replace(/^file:\/\//, '')
    // A dependency is named from node_modules/ on, wherever the tree lives (a checkout elsewhere may link to it).
    const dep = url.indexOf('/node_modules/')
    const where = url ? `${dep >= 0 ? url.slice(dep + 1) : url.startsWith('/') ? relative(root, url) : url}:${f.lineNumber + 1}` : ''
    const key = `${f.functionName}|${where}`
    const a = agg.get(key) ?? { name: f.functionName || '(anonymous)', where, us: 0 }
    a.us += us
    agg.set(key, a)
  }
  const busy = total - idle
  const list = [...agg.values()].sort((a, b) => b.us - a.us).slice(0, top)
  return {
    totalMs: total / 1000,
    idleMs: idle / 1000,
    top: list.map((a) => ({ name: a.name, where: a.where, selfMs: a.us / 1000, selfPct: busy > 0 ? (100 * a.us) / busy : 0 })),
  }
}

/**
 * Inclusive time of groups of functions: a sample counts for a group when any frame of its
 * stack matches (once, however many match). For "where does the time of X go" questions a
 * flat self-time list cannot answer, e.g. everything under ioredis's sendCommand, socket
 * writes included. Idle samples are left out; `busyMs` is the rest.
 */
export function inclusiveTimes(file: string, groups: Record<string, (name: string, url: string) => boolean>): { busyMs: number; ms: Record<string, number> } {
  const prof = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile
  const parent = new Map<number, number>()
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const byId = new Map(prof.nodes.map((n) => [n.id, n]))
  const names = Object.keys(groups)
  // Which groups each node's stack (the node and its ancestors) falls in, memoized per node.
  const memo = new Map<number, boolean[]>()
  const inGroups = (id: number): boolean[] => {
    let m = memo.get(id)
    if (m) return m
    const f = byId.get(id)!.callFrame
    const up = parent.has(id) ? inGroups(parent.get(id)!) : names.map(() => false)
    m = names.map((g, i) => up[i] || groups[g](f.functionName, f.url))
    memo.set(id, m)
    return m
  }
  const ms: Record<string, number> = Object.fromEntries(names.map((g) => [g, 0]))
  let busy = 0
  for (let i = 0; i < prof.samples.length; i++) {
    const id = prof.samples[i]
    if (byId.get(id)!.callFrame.functionName === '(idle)') continue
    const dt = (prof.timeDeltas[i] ?? 0) / 1000
    busy += dt
    inGroups(id).forEach((hit, j) => {
      if (hit) ms[names[j]] += dt
    })
  }
  return { busyMs: busy, ms }
}
