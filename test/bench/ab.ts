/**
 * A/B of two yroom variants under the standard load, both at the same time: `npm run bench:ab`.
 *
 * On a shared machine, CPU per delivery swings by a third within minutes, so two runs one
 * after the other cannot show a 5 % change. Run side by side, both variants see the same
 * conditions; still, A/A rounds here gave ratios from 0.96 to 1.10, so use several rounds.
 * Each round starts both servers, loads both at once (one load generator each) and prints
 * B/A; the mean is over the rounds. Two servers and two generators share the machine, so absolute figures are
 * higher than a normal run's: only the ratio counts.
 *
 * A variant is `key=value` pairs separated by `;`:
 *   dist=DIR   a build of yroom inside the repository (default `dist`; e.g. copy an older
 *              build to `dist-old`)
 *   args=...   extra `yroom serve` flags, commas for spaces (`args=--apply-delay-ms,50`)
 *   node=...   extra Node flags, commas for spaces
 *
 *   A='dist=dist-old' B='dist=dist' ROUNDS=4 npm run bench:ab
 *   A='args=--apply-delay-ms,10' B='args=--apply-delay-ms,50' npm run bench:ab
 *
 * ROOMS (default 4) and OFFENDERS (offending writers per room, default 0) change the load.
 */
import { installCleanup } from './lib/children.js'
import type { LoadResult } from './loadgen/types.js'
import { startServer, type RunningServer } from './servers/servers.js'
import { measureSideBySide, settings } from './scenarios/common.js'

interface Variant {
  dist: string
  args: string
  node: string
}

function parseVariant(text: string): Variant {
  const kv = new Map(text.split(';').filter(Boolean).map((pair) => {
    const i = pair.indexOf('=')
    if (i < 0) throw new Error(`variant part "${pair}" is not key=value`)
    return [pair.slice(0, i), pair.slice(i + 1).replaceAll(',', ' ')] as const
  }))
  for (const key of kv.keys()) if (!['dist', 'args', 'node'].includes(key)) throw new Error(`unknown variant key "${key}"`)
  return { dist: kv.get('dist') ?? 'dist', args: kv.get('args') ?? '', node: kv.get('node') ?? '' }
}

/** Starts yroom as the variant says (startServer reads these variables). */
function start(v: Variant): Promise<RunningServer> {
  process.env.YROOM_DIST = v.dist
  process.env.YROOM_BENCH_ARGS = v.args
  process.env.YROOM_NODE_ARGS = v.node
  return startServer('yroom')
}

const brief = (r: LoadResult) =>
  `${(r.cpuPer1000 * 1000).toFixed(3)} ms/1k (p99 ${r.latency.p99.toFixed(0)} ms${r.rollback ? `, rollback p99 ${r.rollback.latency.p99.toFixed(0)} ms` : ''})`

installCleanup()
const s = settings(false)
const variants = [parseVariant(process.env.A ?? ''), parseVariant(process.env.B ?? '')]
const rounds = Number(process.env.ROUNDS ?? 3)
const load = { ...s.standard, rooms: Number(process.env.ROOMS ?? s.standard.rooms), offendersPerRoom: Number(process.env.OFFENDERS ?? 0) }
console.log(`A: ${JSON.stringify(variants[0])}\nB: ${JSON.stringify(variants[1])}\n${load.rooms} rooms × ${load.clientsPerRoom} clients × ${load.hz} Hz, ${load.offendersPerRoom} offenders per room, ${rounds} rounds`)
const total = [0, 0]
for (let round = 1; round <= rounds; round++) {
  const results = await measureSideBySide(variants.map((v) => () => start(v)), load, s.standard, s)
  results.forEach((r, i) => (total[i] += r.cpuPer1000))
  console.log(`round ${round}: A ${brief(results[0])}, B ${brief(results[1])}, B/A ${(results[1].cpuPer1000 / results[0].cpuPer1000).toFixed(3)}`)
}
console.log(`mean: A ${((total[0] / rounds) * 1000).toFixed(3)}, B ${((total[1] / rounds) * 1000).toFixed(3)} ms/1k; B/A ${(total[1] / total[0]).toFixed(3)}`)
process.exit(0)
