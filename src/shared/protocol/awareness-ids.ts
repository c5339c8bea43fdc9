/**
 * Reads and re-writes awareness updates without applying them, so the server can check
 * which client ids an update speaks for before it touches the room.
 * Format (y-protocols/awareness): varUint(n), n × [varUint(clientID), varUint(clock), varString(json)].
 */
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { jsonTooDeep, MAX_JSON_DEPTH } from './json-depth.js'

export interface AwarenessEntry {
  clientID: number
  clock: number
  /** The state as JSON text ('null' = removed). */
  json: string
}

export function readAwarenessEntries(update: Uint8Array): AwarenessEntry[] {
  const decoder = decoding.createDecoder(update)
  const n = decoding.readVarUint(decoder)
  const entries: AwarenessEntry[] = []
  for (let i = 0; i < n; i++) {
    const clientID = decoding.readVarUint(decoder)
    const clock = decoding.readVarUint(decoder)
    const json = decoding.readVarString(decoder)
    // Malformed or too deeply nested state JSON makes the whole update malformed.
    if (jsonTooDeep(json)) throw new TypeError(`awareness state nested deeper than ${MAX_JSON_DEPTH}`)
    JSON.parse(json)
    entries.push({ clientID, clock, json })
  }
  if (decoding.hasContent(decoder)) throw new TypeError('awareness update has trailing bytes')
  return entries
}

export function encodeAwarenessEntries(entries: AwarenessEntry[]): Uint8Array {
  const enc = encoding.createEncoder()
  encoding.writeVarUint(enc, entries.length)
  for (const e of entries) {
    encoding.writeVarUint(enc, e.clientID)
    encoding.writeVarUint(enc, e.clock)
    encoding.writeVarString(enc, e.json)
  }
  return encoding.toUint8Array(enc)
}
