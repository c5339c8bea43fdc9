/**
 * The update Yjs writes for `map.set(key, value)` (a string value) when the key's current
 * value is this client's own previous write, at clock `clock - 1`: one item whose origin is
 * that write, holding the string, and a delete set of that write. Encoded directly because at
 * tens of thousands of writes a second a Yjs transaction per write was a fifth of the
 * generator's CPU. harness.test.ts checks it byte for byte against Yjs.
 */
import * as encoding from 'lib0/encoding'

/** Item info byte: content ContentAny (8) | origin present (BIT8) | has a parentSub (BIT6). */
const INFO_ANY_WITH_ORIGIN_IN_MAP = 8 | 0x80 | 0x20

export function encodeOverwrite(client: number, clock: number, value: string): Uint8Array {
  const enc = encoding.createEncoder()
  encoding.writeVarUint(enc, 1) // one client section
  encoding.writeVarUint(enc, 1) // of one struct
  encoding.writeVarUint(enc, client)
  encoding.writeVarUint(enc, clock)
  encoding.writeUint8(enc, INFO_ANY_WITH_ORIGIN_IN_MAP)
  encoding.writeVarUint(enc, client) // origin: the previous write
  encoding.writeVarUint(enc, clock - 1)
  encoding.writeVarUint(enc, 1) // one value
  encoding.writeAny(enc, value)
  encoding.writeVarUint(enc, 1) // delete set: one client,
  encoding.writeVarUint(enc, client)
  encoding.writeVarUint(enc, 1) // one range: the previous write
  encoding.writeVarUint(enc, clock - 1)
  encoding.writeVarUint(enc, 1)
  return encoding.toUint8Array(enc)
}
