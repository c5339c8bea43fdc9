/**
 * `npm run fuzz -- --seconds N [--seed S] [--attackers A] [--rss-limit MB]`: a fuzzing
 * campaign against a real `yroom serve` (see campaign.ts). Prints frames per second,
 * iterations and every finding with its seed; exits 1 when there is a finding.
 */
import { parseArgs } from 'node:util'
import { runCampaign } from './campaign.js'

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    seed: { type: 'string' },
    attackers: { type: 'string' },
    'checkpoint-every': { type: 'string' },
    'checkpoint-ms': { type: 'string' },
    'rss-limit': { type: 'string' },
    'frames-per-second': { type: 'string' },
    'overlap-rate': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
})

if (values.help) {
  console.log(`usage: npm run fuzz -- [--seconds 60] [--seed S] [--attackers 4] [--checkpoint-every 3000]
                     [--checkpoint-ms 10000] [--rss-limit 400] [--frames-per-second 200] [--overlap-rate 0.2]`)
  process.exit(0)
}

const num = (v: string | undefined): number | undefined => (v === undefined ? undefined : Number(v))
const seed = values.seed !== undefined ? Number(values.seed) >>> 0 : Math.floor(Math.random() * 2 ** 31)
console.log(`yroom fuzz: seed ${seed}, ${values.seconds} s (replay: npm run fuzz -- --seed ${seed} --seconds ${values.seconds})`)

const result = await runCampaign({
  seed,
  seconds: Number(values.seconds),
  attackers: num(values.attackers),
  checkpointEvery: num(values['checkpoint-every']),
  checkpointMs: num(values['checkpoint-ms']),
  rssLimitMb: num(values['rss-limit']),
  framesPerSecond: num(values['frames-per-second']),
  overlapRate: num(values['overlap-rate']),
})

console.log(
  `\nyroom fuzz: seed ${result.seed}: ${result.seconds.toFixed(0)} s, ${result.iterations} iterations, ${result.framesSent} frames ` +
    `(${result.framesPerSecond.toFixed(0)}/s, ${(result.bytesSent / 1e6).toFixed(1)} MB), ${result.reconnects} attacker connections, ` +
    `${result.epochs} epochs, ${result.checkpoints} checkpoints, ${result.restarts} restarts, max RSS ${result.maxRssMb.toFixed(0)} MB, ` +
    `slowest probe ${result.maxProbeMs} ms, ${result.serverWarnings} server warnings`,
)
if (result.findings.length === 0) {
  console.log('no findings')
  process.exit(0)
}
console.log(`${result.findings.length} finding(s):`)
for (const [i, f] of result.findings.entries()) {
  console.log(`  #${i + 1} [${f.kind}] seed=${f.seed} iteration=${f.iteration} (×${f.count}): ${f.message.split('\n')[0].slice(0, 300)}${f.file ? ` (${f.file})` : ''}`)
}
process.exit(1)
