/**
 * A bounded, seeded fuzzing campaign against a real `yroom serve` (issue 19; see
 * campaign.ts): about 40 s of hostile frames with honest owners in the attacked room and in
 * another, then a restart of the server. A finding fails the test with its seed and the
 * frames before it. `YROOM_FUZZ_SEED` / `YROOM_FUZZ_SECONDS` change the run;
 * `npm run fuzz -- --seed S --seconds N` replays or extends it outside the suite.
 */
import { describe, expect, it } from 'vitest'
import { runCampaign } from './campaign.js'

const SEED = Number(process.env.YROOM_FUZZ_SEED ?? 1919)
const SECONDS = Number(process.env.YROOM_FUZZ_SECONDS ?? 40)

describe('fuzzer (issue 19)', () => {
  it(`a seeded ${SECONDS} s campaign against yroom serve finds nothing (seed ${SEED})`, async () => {
    const r = await runCampaign({ seed: SEED, seconds: SECONDS, progressMs: 0, log: (line) => console.log(line) })
    console.log(
      `fuzz test: seed ${r.seed}, ${r.seconds.toFixed(0)} s, ${r.iterations} iterations, ${r.framesSent} frames (${r.framesPerSecond.toFixed(0)}/s), ` +
        `${r.reconnects} attacker connections, ${r.checkpoints} checkpoints, ${r.restarts} restarts, max RSS ${r.maxRssMb.toFixed(0)} MB`,
    )
    expect(
      r.findings.map((f) => `[${f.kind}] iteration ${f.iteration}: ${f.message.split('\n')[0].slice(0, 300)}`),
      `fuzz findings, seed ${SEED} (replay: npm run fuzz -- --seed ${SEED} --seconds ${SECONDS})`,
    ).toEqual([])
    expect(r.framesSent).toBeGreaterThan(500)
    expect(r.checkpoints).toBeGreaterThan(0)
  }, 150_000)
})
