/**
 * Scenario 5, cold load (in-process against the server's registry, see coldload-child.ts):
 * why in-process: the figure is the room load itself (storage read + merge + apply + plugin
 * onLoad), which a socket round trip would only blur. Median over trials, each in a fresh
 * process; a load that exceeds its time limit is stopped and reported as "more than".
 * The same room is loaded from LevelDB and from PostgreSQL (a throwaway server of the
 * scenario's own, lib/postgres.ts; skipped with a note when PostgreSQL is not installed).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runScript } from '../lib/child-script.js'
import type { ColdJob, ColdWhat, Prepared } from './coldload-child.js'
import { log, type Settings } from './common.js'
import { benchPgSettingsText, startBenchPostgres } from '../lib/postgres.js'

const CHILD = join(import.meta.dirname, 'coldload-child.ts')

export interface Timing {
  /** Median of the finished trials, ms; null when none finished. */
  medianMs: number | null
  trials: number[]
  /** A trial hit the limit (ms); the true figure is above it. */
  timedOutAfterMs: number | null
}

export interface ColdLoadResult extends Prepared {
  floor: Timing
  server: Timing
  log: Timing
  compacted: Timing
  mergeApply: Timing
  /** CPU profiles of loads that missed the target. */
  profiles: Array<{ what: 'server' | 'log' | 'compacted'; file: string; updates: number }>
  /** The same three forms loaded from PostgreSQL (absent in reports from before PostgreSQL, or when skipped). */
  postgres?: { version: string; settings: string; server: Timing; log: Timing; compacted: Timing }
  /** Why the PostgreSQL rows are missing. */
  postgresSkipped?: string
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

/** One trial of `what` in a fresh process, added to `t` (a timed-out variant is not tried again). */
async function trial(dir: string, what: ColdWhat, t: Timing, limitMs: number, pg?: string): Promise<void> {
  if (t.timedOutAfterMs !== null) return
  try {
    const { ms } = await runScript<{ ms: number }>(CHILD, { job: 'measure', dir, what, pg } satisfies ColdJob, ['--expose-gc'], limitMs + 20_000)
    t.trials.push(ms)
  } catch (err) {
    // The child's own time includes startup and JIT warm-up; a kill means the load itself ran long.
    t.timedOutAfterMs = limitMs
    log(`  ${what}: stopped after the ${limitMs / 1000} s limit (${(err as Error).message.split('\n')[0].slice(0, 120)})`)
  }
}

/**
 * Trials of several variants taken in turns (floor, server, …, then again), so a machine
 * that speeds up or slows down between them moves every variant alike: the ratios hold.
 */
async function timings(dir: string, whats: ColdWhat[], trials: number, limitMs: number, pg?: string): Promise<Timing[]> {
  const ts: Timing[] = whats.map(() => ({ medianMs: null, trials: [], timedOutAfterMs: null }))
  for (let i = 0; i < trials; i++) for (let w = 0; w < whats.length; w++) await trial(dir, whats[w], ts[w], limitMs, pg)
  for (const t of ts) if (t.trials.length > 0) t.medianMs = median(t.trials)
  return ts
}

/** `profileDir`: where to write a CPU profile of the log load if it misses its target. */
export async function coldLoad(s: Settings, profileDir: string | null): Promise<ColdLoadResult> {
  log(`scenario 5 cold load: ${s.cold.models} models, ${s.cold.updates} updates`)
  const dir = mkdtempSync(join(tmpdir(), 'yroom-bench-cold-'))
  const pgs = await startBenchPostgres()
  const pg = 'skipped' in pgs ? undefined : pgs
  try {
    const prep = await runScript<Prepared>(CHILD, { job: 'prepare', dir, models: s.cold.models, updates: s.cold.updates, pg: pg?.server.url } satisfies ColdJob)
    const limit = s.quick ? 20_000 : 30_000
    const whats: ColdWhat[] = ['floor', 'server', 'compacted', 'log', ...(pg ? (['pg:server', 'pg:compacted', 'pg:log'] as const) : [])]
    const [floor, server, compacted, logT, pgServer, pgCompacted, pgLog] = await timings(dir, whats, s.cold.trials, limit, pg?.server.url)
    // In memory without storage, to tell merge cost from storage cost; pointless (and as slow) when the log load already hit the limit.
    const mergeApply: Timing = logT.timedOutAfterMs
      ? { medianMs: null, trials: [], timedOutAfterMs: null }
      : (await timings(dir, ['mergeApply'], 1, 10_000))[0]
    const r: ColdLoadResult = { ...prep, floor, server, log: logT, compacted, mergeApply, profiles: [] }
    if (pg) r.postgres = { version: pg.version, settings: benchPgSettingsText(), server: pgServer, log: pgLog, compacted: pgCompacted }
    else r.postgresSkipped = (pgs as { skipped: string }).skipped
    log(
      `  floor ${floor.medianMs?.toFixed(1)} ms, as stored by the server (${prep.serverEntries} entries) ${server.medianMs?.toFixed(1) ?? '> ' + limit} ms, ` +
        `compacted ${compacted.medianMs?.toFixed(1)} ms, raw log ${logT.medianMs?.toFixed(1) ?? '> ' + limit} ms`,
    )
    if (pg) {
      log(
        `  PostgreSQL: as stored by the server ${pgServer.medianMs?.toFixed(1) ?? '> ' + limit} ms, ` +
          `compacted ${pgCompacted.medianMs?.toFixed(1) ?? '> ' + limit} ms, raw log ${pgLog.medianMs?.toFixed(1) ?? '> ' + limit} ms`,
      )
    }
    const over = (t: Timing) => t.timedOutAfterMs !== null || (t.medianMs ?? 0) > 1.5 * (floor.medianMs ?? Infinity)
    if (profileDir && over(logT)) {
      // Profile a log load on a smaller history when the full one is too slow to profile.
      const updates = logT.timedOutAfterMs ? Math.min(s.cold.updates, 10_000) : s.cold.updates
      const pdir = updates === s.cold.updates ? dir : mkdtempSync(join(tmpdir(), 'yroom-bench-cold-p-'))
      if (pdir !== dir) await runScript<Prepared>(CHILD, { job: 'prepare', dir: pdir, models: Math.min(s.cold.models, updates / 10), updates } satisfies ColdJob)
      const file = join(profileDir, 'coldload-log.cpuprofile')
      await runScript(CHILD, { job: 'measure', dir: pdir, what: 'log', profileFile: file } satisfies ColdJob, ['--expose-gc'])
      if (pdir !== dir) rmSync(pdir, { recursive: true, force: true })
      r.profiles.push({ what: 'log', file, updates })
    }
    if (profileDir && over(server)) {
      const file = join(profileDir, 'coldload-server.cpuprofile')
      await runScript(CHILD, { job: 'measure', dir, what: 'server', profileFile: file } satisfies ColdJob, ['--expose-gc'])
      r.profiles.push({ what: 'server', file, updates: s.cold.updates })
    }
    if (profileDir && over(compacted)) {
      const file = join(profileDir, 'coldload-compacted.cpuprofile')
      await runScript(CHILD, { job: 'measure', dir, what: 'compacted', profileFile: file } satisfies ColdJob, ['--expose-gc'])
      r.profiles.push({ what: 'compacted', file, updates: s.cold.updates })
    }
    return r
  } finally {
    await pg?.server.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}
