/**
 * The action ledger (SPEC §8: each action id applies at most once), shared by the server,
 * which writes it, and the SDK, which reads it to know which pending actions the confirmed
 * state already contains.
 *
 * `$room.actions` maps an action client id to one {@link LedgerEntry}. Every id ≤ `low` is
 * settled: applied, or answered and never to be resent. `ids` are the applied ids above
 * `low`, ascending and bounded (the server refuses new ids beyond a window). Ids arrive in
 * any order (a reconnect may resend older ids after newer ones), so "applied" is per id,
 * never "≤ the last one seen". The entry is written in the same transaction as the action's
 * effect, so every replica sees effect and mark together. An entry written by older servers
 * is a plain number: the low-water mark.
 */
import * as Y from 'yjs'
import { ROOM_MAP } from '../layout.js'

/** Key in `$room` of the ledger. */
export const LEDGER_KEY = 'actions'

export interface LedgerEntry {
  low: number
  ids: number[]
}

export function entryOf(value: unknown): LedgerEntry {
  if (typeof value === 'number') return { low: value, ids: [] }
  const v = value as Partial<LedgerEntry> | null | undefined
  if (v && typeof v.low === 'number' && Array.isArray(v.ids)) return { low: v.low, ids: v.ids }
  return { low: 0, ids: [] }
}

/** True when the entry records `seq` as applied (or settled). */
export function entryHas(e: LedgerEntry, seq: number): boolean {
  return seq <= e.low || e.ids.includes(seq)
}

/** The ledger map of a document, if any action was applied in it. */
export function ledgerOf(doc: Y.Doc): Y.Map<unknown> | undefined {
  const l = doc.getMap(ROOM_MAP).get(LEDGER_KEY)
  return l instanceof Y.Map ? (l as Y.Map<unknown>) : undefined
}

/** The entry with `seq` applied and the client's `settled` mark folded in. */
export function withApplied(e: LedgerEntry, seq: number, settled: number): LedgerEntry {
  let low = Math.max(e.low, settled)
  const ids = [...e.ids, seq].filter((id) => id > low).sort((a, b) => a - b)
  while (ids.length > 0 && ids[0] === low + 1) low = ids.shift()!
  return { low, ids }
}
