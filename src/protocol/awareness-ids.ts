/**
 * Reads the client ids an awareness update speaks for, without applying it. The server
 * checks them against the connection's identity before the update touches the room.
 * Format (y-protocols/awareness): varUint(n), n × [varUint(clientID), varUint(clock), varString(json)].
 */
import * as decoding from 'lib0/decoding'

export function readAwarenessClientIds(update: Uint8Array): number[] {
  const decoder = decoding.createDecoder(update)
  const n = decoding.readVarUint(decoder)
  const ids: number[] = []
  for (let i = 0; i < n; i++) {
    ids.push(decoding.readVarUint(decoder))
    decoding.readVarUint(decoder)
    const json = decoding.readVarString(decoder)
    JSON.parse(json) // malformed state JSON makes the whole update malformed
  }
  if (decoding.hasContent(decoder)) throw new TypeError('awareness update has trailing bytes')
  return ids
}
