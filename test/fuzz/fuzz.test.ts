/**
 * A bounded, seeded fuzzing campaign against a real `yroom serve` (issue 19; see
 * campaign.ts): about 40 s of hostile frames with honest owners in the attacked room and in
 * another, then a restart of the server. A finding fails the test with its seed and the
 * frames before it, but for the open class below. `YROOM_FUZZ_SEED` / `YROOM_FUZZ_SECONDS` change the run;
 * `npm run fuzz -- --seed S --seconds N` replays or extends it outside the suite.
 */
import { describe, expect, it } from 'vitest'
import { runCampaign } from './campaign.js'

const SEED = Number(process.env.YROOM_FUZZ_SEED ?? 1919)
const SECONDS = Number(process.env.YROOM_FUZZ_SECONDS ?? 40)

/**
 * One class of finding is still open (issue 19's closing note): it is printed here and
 * reported by `npm run fuzz`, but does not fail the suite. Every other finding does: a
 * crash, a server error or a room that had to reload, an unresponsive server, memory,
 * content an owner did not write seen by anyone, an owner's write lost, a stock client that
 * cannot apply what the server sent, an honest client closed, an awareness state that
 * outlives its client.
 *
 * - Divergence: a late joiner (or the state after a restart) differs from the honest
 *   replicas in deleted structs or list order, not in what anyone sees of owned models.
 *   Suspected cause: Yjs collects deleted items at different moments on the server, on
 *   clients and on reload, and integrates an item next to a collected one as a GC.
 */
const openClass = (f: { kind: string }): string | null => (f.kind === 'divergence' ? 'divergence' : null)

describe('fuzzer (issue 19)', () => {
  it(`a seeded ${SECONDS} s campaign against yroom serve finds nothing (seed ${SEED})`, async () => {
    const r = await runCampaign({ seed: SEED, seconds: SECONDS, progressMs: 0, log: (line) => console.log(line) })
    console.log(
      `fuzz test: seed ${r.seed}, ${r.seconds.toFixed(0)} s, ${r.iterations} iterations, ${r.framesSent} frames (${r.framesPerSecond.toFixed(0)}/s), ` +
        `${r.reconnects} attacker connections, ${r.checkpoints} checkpoints, ${r.restarts} restarts, max RSS ${r.maxRssMb.toFixed(0)} MB`,
    )
    for (const f of r.findings) {
      const open = openClass(f)
      if (open) console.log(`open (${open}), iteration ${f.iteration}: ${f.message.split('\n')[0].slice(0, 300)}`)
    }
    expect(
      r.findings.filter((f) => openClass(f) === null).map((f) => `[${f.kind}] iteration ${f.iteration}: ${f.message.split('\n')[0].slice(0, 300)}`),
      `fuzz findings, seed ${SEED} (replay: npm run fuzz -- --seed ${SEED} --seconds ${SECONDS})`,
    ).toEqual([])
    expect(r.framesSent).toBeGreaterThan(500)
    expect(r.checkpoints).toBeGreaterThan(0)
  }, 150_000)
})
