/**
 * Scenario 2, capacity: more rooms of 50 clients × 20 Hz until p99 > 100 ms or delivery
 * < 99 %; the highest load held is the capacity. A failed step is retried once (shared,
 * noisy machine); after the first failure one step between the last pass and the failure
 * narrows the result down.
 */
import type { LoadResult } from '../loadgen/types.js'
import type { ServerId } from '../servers/servers.js'
import { brief, log, measure, type Settings } from './common.js'

export const CAPACITY_SERVERS: ServerId[] = ['yroom', 'hocuspocus', 'y-websocket-server']
export const MAX_P99_MS = 100
export const MIN_RATIO = 0.99

export interface CapacityStep {
  rooms: number
  /** Offered load in deliveries per second (rooms × N × F × (N − 1)). */
  offered: number
  result: LoadResult
  held: boolean
  why: string
}

export interface CapacityResult {
  server: ServerId
  steps: CapacityStep[]
  highest: CapacityStep | null
  /** The first failure happened while the load generator itself was saturated. */
  generatorBound: boolean
  /** Every step passed: the capacity is at least the last step. */
  open: boolean
}

function verdict(r: LoadResult): { held: boolean; why: string } {
  const why: string[] = []
  if (!(r.ratio >= MIN_RATIO)) why.push(`delivered ${(r.ratio * 100).toFixed(2)}%`)
  if (!(r.latency.p99 <= MAX_P99_MS)) why.push(`p99 ${r.latency.p99.toFixed(0)} ms`)
  if (r.disconnects > 0) why.push(`${r.disconnects} disconnects`)
  return { held: why.length === 0, why: why.join(', ') || 'held' }
}

export const generatorSaturated = (r: LoadResult): boolean => r.genCpu > 0.9 || r.genLoopP99 > 50

async function step(id: ServerId, rooms: number, s: Settings): Promise<CapacityStep> {
  const load = { rooms, clientsPerRoom: s.standard.clientsPerRoom, hz: s.standard.hz }
  const n = load.clientsPerRoom
  const offered = rooms * n * load.hz * (n - 1)
  let result = await measure(id, load, s.capacity)
  let v = verdict(result)
  log(`  ${id} ${rooms} rooms: ${v.held ? 'held' : 'FAILED (' + v.why + ')'}; ${brief(result)}`)
  if (!v.held && s.capacity.retry) {
    result = await measure(id, load, s.capacity)
    v = verdict(result)
    log(`  ${id} ${rooms} rooms (retry): ${v.held ? 'held' : 'FAILED (' + v.why + ')'}; ${brief(result)}`)
  }
  return { rooms, offered, result, ...v }
}

export async function capacity(id: ServerId, s: Settings): Promise<CapacityResult> {
  log(`scenario 2 capacity: ${id}`)
  const steps: CapacityStep[] = []
  let lastPass: CapacityStep | null = null
  let failure: CapacityStep | null = null
  for (const rooms of s.capacity.steps) {
    const st = await step(id, rooms, s)
    steps.push(st)
    if (st.held) lastPass = st
    else {
      failure = st
      break
    }
  }
  if (failure && s.capacity.refine) {
    const lo = lastPass?.rooms ?? 0
    const mid = Math.round((lo + failure.rooms) / 2)
    if (mid > lo && mid < failure.rooms) {
      const st = await step(id, mid, s)
      steps.push(st)
      if (st.held) lastPass = st
      else failure = st
    }
  }
  steps.sort((a, b) => a.rooms - b.rooms)
  return {
    server: id,
    steps,
    highest: lastPass,
    generatorBound: failure !== null && generatorSaturated(failure.result),
    open: failure === null,
  }
}
