/**
 * Scenario 4, rejection storm: in each room 20 % of the writers are offenders that write into
 * a model owned by another client (`$meta.ownerID` = the owner's clientID). The server must
 * reject and compensate; each offender decodes what it receives and records the time from
 * its write until the item it inserted is deleted in its own replica (the rollback).
 *
 * A run whose rollback p99 misses the target is repeated, by the rule capacity steps follow:
 * once, twice when other processes kept the machine busy during it. Every attempt is reported.
 */
import type { LoadResult } from '../loadgen/types.js'
import { contended } from './capacity.js'
import { brief, log, measure, type Settings } from './common.js'

export interface RejectionResult {
  /** The last attempt: the one the target is judged on. */
  result: LoadResult
  /** Attempts before it, which missed the target. */
  earlier: LoadResult[]
}

/** The target: every rejected write rolled back (≥ 99 %), at p99 within `limitMs`. */
export function rollbackMet(r: LoadResult, limitMs: number): boolean {
  const rb = r.rollback
  if (!rb || rb.latency.count === 0 || rb.writes === 0) return false
  return rb.latency.p99 <= limitMs && rb.rolledBack / rb.writes >= 0.99
}

export async function rejectionStorm(s: Settings, limitMs: number): Promise<RejectionResult> {
  const attempts: LoadResult[] = []
  for (;;) {
    log(`scenario 4 rejection storm: yroom (authority on)${attempts.length > 0 ? `, attempt ${attempts.length + 1}` : ''}`)
    const r = await measure('yroom', { ...s.standard, offendersPerRoom: s.rejection.offendersPerRoom }, s.standard, s)
    const rb = r.rollback!
    log(`  ${brief(r)}; rollbacks ${rb.rolledBack}/${rb.writes}, p50 ${rb.latency.p50.toFixed(1)} p99 ${rb.latency.p99.toFixed(1)} ms; first offenses ${rb.first.count}, max ${rb.first.max.toFixed(1)} ms`)
    attempts.push(r)
    const maxAttempts = !s.capacity.retry ? 1 : contended(r) ? 3 : 2
    if (rollbackMet(r, limitMs) || attempts.length >= maxAttempts) return { result: r, earlier: attempts.slice(0, -1) }
  }
}
