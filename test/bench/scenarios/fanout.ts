/**
 * Scenario 1, fan-out: the standard load (4 rooms × 50 clients × 20 Hz) against every server.
 * Scenario 3, authority on vs off: yroom with and without the authority plugin under the same
 * load; scenario 1's pair plus extra pairs in reversed order, so drift on a shared machine
 * does not favour one side. The CPU target against Hocuspocus is measured the same way.
 */
import type { LoadResult } from '../loadgen/types.js'
import { startServer, type ServerId } from '../servers/servers.js'
import { brief, log, measure, measureSideBySide, type Settings } from './common.js'

export const FANOUT_SERVERS: ServerId[] = ['yroom', 'yroom-noauth', 'y-websocket-server', 'hocuspocus']

export type FanoutResult = Record<ServerId, LoadResult>

export async function fanout(s: Settings): Promise<FanoutResult> {
  const out = {} as FanoutResult
  for (const id of FANOUT_SERVERS) {
    log(`scenario 1 fan-out: ${id}`)
    out[id] = await measure(id, s.standard, s.standard, s)
    log(`  ${brief(out[id])}`)
  }
  return out
}

export interface AuthorityResult {
  on: LoadResult[]
  off: LoadResult[]
  /** Server CPU per 1,000 deliveries, on ÷ off, over all runs. */
  ratio: number
}

/** Server CPU seconds per 1,000 deliveries over several runs (all CPU ÷ all deliveries). */
export const cpuPer1000 = (runs: LoadResult[]) =>
  runs.reduce((n, r) => n + r.serverCpuSec, 0) / (runs.reduce((n, r) => n + r.delivered, 0) / 1000)

export interface CpuVsHocuspocus {
  yroom: LoadResult[]
  hocuspocus: LoadResult[]
  /** Server CPU per 1,000 deliveries, yroom ÷ Hocuspocus, over all runs. */
  ratio: number
  /**
   * The forwarding floor under the same load (servers/floor.mjs): what Node, ws and loopback
   * TCP cost for this traffic without a document. Absent in quick runs and older reports.
   */
  floor?: LoadResult
  /** One run each under the capacity scenario's generator ('stock-bytes'), to compare with the stock runs. */
  stockBytes?: { yroom: LoadResult; hocuspocus: LoadResult }
}

/**
 * CPU per delivery against Hocuspocus: scenario 1's runs plus `cpuPairs` extra pairs,
 * Hocuspocus first in each, so one noisy run on a shared machine does not decide it.
 */
export async function cpuVsHocuspocus(s: Settings, f: FanoutResult): Promise<CpuVsHocuspocus> {
  const yroom = [f.yroom]
  const hocuspocus = [f.hocuspocus]
  for (let i = 0; i < s.cpuPairs; i++) {
    log(`scenario 1 CPU vs Hocuspocus: extra pair ${i + 1}`)
    hocuspocus.push(await measure('hocuspocus', s.standard, s.standard, s))
    log(`  hocuspocus: ${brief(hocuspocus[hocuspocus.length - 1])}`)
    yroom.push(await measure('yroom', s.standard, s.standard, s))
    log(`  yroom:      ${brief(yroom[yroom.length - 1])}`)
  }
  let floor: LoadResult | undefined
  if (s.cpuPairs > 0) {
    log('scenario 1 CPU: the forwarding floor (no document), for reference')
    floor = await measure('floor', s.standard, s.standard, s)
    log(`  floor: ${brief(floor)}`)
  }
  // The cheaper generator ('stock-bytes': the stock bytes, encoded directly): would the
  // servers cost the same under it as under stock clients? (capacity could then use it)
  let stockBytes: CpuVsHocuspocus['stockBytes']
  if (s.cpuPairs > 0) {
    log("scenario 1 CPU: the 'stock-bytes' generator, for comparison")
    const bytesLoad = { ...s.standard, shape: 'stock-bytes' as const }
    const h = await measure('hocuspocus', bytesLoad, s.standard, s)
    const y = await measure('yroom', bytesLoad, s.standard, s)
    log(`  hocuspocus: ${brief(h)}\n  yroom:      ${brief(y)}`)
    stockBytes = { yroom: y, hocuspocus: h }
  }
  return { yroom, hocuspocus, ratio: cpuPer1000(yroom) / cpuPer1000(hocuspocus), floor, stockBytes }
}

export async function authorityCost(s: Settings, f: FanoutResult): Promise<AuthorityResult> {
  const on = [f.yroom]
  const off = [f['yroom-noauth']]
  for (let i = 0; i < s.authorityPairs; i++) {
    log(`scenario 3 authority on vs off: extra pair ${i + 1} (side by side)`)
    const [o, n] = await measureSideBySide([() => startServer('yroom-noauth'), () => startServer('yroom')], s.standard, s.standard, s)
    off.push(o)
    on.push(n)
    log(`  off: ${brief(o)}`)
    log(`  on:  ${brief(n)}`)
  }
  return { on, off, ratio: cpuPer1000(on) / cpuPer1000(off) }
}
