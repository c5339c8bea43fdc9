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
