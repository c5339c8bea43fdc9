/**
 * Scenario 4, rejection storm: in each room 20 % of the writers are offenders that write into
 * a model owned by another client (`$meta.ownerID` = the owner's clientID). The server must
 * reject and compensate; each offender decodes what it receives and records the time from
 * its write until the item it inserted is deleted in its own replica (the rollback).
 */
import type { LoadResult } from '../loadgen/types.js'
import { brief, log, measure, type Settings } from './common.js'

export async function rejectionStorm(s: Settings): Promise<LoadResult> {
  log('scenario 4 rejection storm: yroom (authority on)')
  const r = await measure('yroom', { ...s.standard, offendersPerRoom: s.rejection.offendersPerRoom }, s.standard, s)
  const rb = r.rollback!
  log(`  ${brief(r)}; rollbacks ${rb.rolledBack}/${rb.writes}, p50 ${rb.latency.p50.toFixed(1)} p99 ${rb.latency.p99.toFixed(1)} ms; first offenses ${rb.first.count}, max ${rb.first.max.toFixed(1)} ms`)
  return r
}
