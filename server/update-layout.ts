/**
 * The layout of a Yjs update (V1, what y-websocket sends): which clients author structs in
 * it, from which clock, and where its struct sections and delete-set entries lie.
 *
 * Read once, when an update arrives, by skipping over its structs without building them
 * (Y.parseUpdateMeta builds every struct and decodes every value: twice the work of this).
 * The layout serves twice: its clients are what identity checks and judging need, and its
 * byte ranges let the tick merge updates of different clients by concatenation
 * (tick-merge.ts) instead of decoding and re-encoding them.
 *
 * The format (yjs/src/utils/encoding.js, UpdateDecoderV1):
 *   update  = varUint(#sections) section* deleteSet
 *   section = varUint(#structs) varUint(client) varUint(clock) struct*
 *   struct  = info:uint8 ( GC: varUint(len) | Skip: varUint(len) | Item: ids, parent, content )
 *   deleteSet = varUint(#entries) ( varUint(client) varUint(#ranges) (varUint(clock) varUint(len))* )*
 * Anything that does not parse is malformed, and nothing of it is applied.
 */
import * as decoding from 'lib0/decoding'

export interface UpdateLayout {
  /** Clients that author structs in the update, mapped to their first clock. */
  structClients: Map<number, number>
  /** The client of each struct section, in order (each at most once; a section may be empty). */
  sectionClients: number[]
  /** Where each section starts; it ends where the next starts, the last at `sectionsEnd`. */
  sectionStarts: number[]
  sectionsEnd: number
  /** Number of delete-set entries and their byte range (after the entry count). */
  deleteEntries: number
  deletesStart: number
  deletesEnd: number
}

export class MalformedUpdate extends Error {}

const BITS5 = 31
const BIT6 = 32
const BIT7 = 64
const BIT8 = 128

function skip(d: decoding.Decoder, n: number): void {
  if (n < 0 || d.pos + n > d.arr.length) throw new MalformedUpdate('unexpected end of update')
  d.pos += n
}

function readByte(d: decoding.Decoder): number {
  if (d.pos >= d.arr.length) throw new MalformedUpdate('unexpected end of update')
  return d.arr[d.pos++]
}

const skipVarUint = (d: decoding.Decoder): void => void decoding.readVarUint(d)
const skipVarString = (d: decoding.Decoder): void => skip(d, decoding.readVarUint(d))

/** Skips one value of lib0's `writeAny` encoding (what Y.Map/Y.Array values use). */
function skipAny(d: decoding.Decoder, depth = 0): void {
  if (depth > 100) throw new MalformedUpdate('value nested too deeply')
  const type = readByte(d)
  switch (type) {
    case 127: // undefined
    case 126: // null
    case 121: // false
    case 120: // true
      return
    case 125: // varInt: same continuation bits as varUint
      skipVarUint(d)
      return
    case 124: // float32
      skip(d, 4)
      return
    case 123: // float64
    case 122: // bigint64
      skip(d, 8)
      return
    case 119: // string
    case 116: // Uint8Array
      skipVarString(d)
      return
    case 118: {
      // object: count, then key and value pairs
      const n = decoding.readVarUint(d)
      for (let i = 0; i < n; i++) {
        skipVarString(d)
        skipAny(d, depth + 1)
      }
      return
    }
    case 117: {
      const n = decoding.readVarUint(d)
      for (let i = 0; i < n; i++) skipAny(d, depth + 1)
      return
    }
    default:
      throw new MalformedUpdate(`unknown value type ${type}`)
  }
}

/** Skips an item's content (yjs contentRefs, by the low 5 bits of its info byte). */
function skipContent(d: decoding.Decoder, ref: number): void {
  switch (ref) {
    case 1: // deleted: length
      skipVarUint(d)
      return
    case 2: {
      // JSON: count, then strings
      const n = decoding.readVarUint(d)
      for (let i = 0; i < n; i++) skipVarString(d)
      return
    }
    case 3: // binary
    case 4: // string
    case 5: // embed (JSON string)
      skipVarString(d)
      return
    case 6: // format: key, value (JSON string)
      skipVarString(d)
      skipVarString(d)
      return
    case 7: {
      // type: type ref, plus a node name for XmlElement (3) and XmlHook (5)
      const typeRef = decoding.readVarUint(d)
      if (typeRef === 3 || typeRef === 5) skipVarString(d)
      return
    }
    case 8: {
      // any: count, then values
      const n = decoding.readVarUint(d)
      for (let i = 0; i < n; i++) skipAny(d)
      return
    }
    case 9: // subdocument: guid, options
      skipVarString(d)
      skipAny(d)
      return
    default:
      throw new MalformedUpdate(`unknown content type ${ref}`)
  }
}

function skipStruct(d: decoding.Decoder): void {
  const info = readByte(d)
  const ref = info & BITS5
  if (ref === 0 || ref === 10) {
    // GC or Skip: a length
    skipVarUint(d)
    return
  }
  if ((info & BIT8) !== 0) (skipVarUint(d), skipVarUint(d)) // origin id
  if ((info & BIT7) !== 0) (skipVarUint(d), skipVarUint(d)) // right origin id
  if ((info & (BIT7 | BIT8)) === 0) {
    // Parent: a root type's name or the id of the item holding the type; then the map key.
    if (decoding.readVarUint(d) === 1) skipVarString(d)
    else (skipVarUint(d), skipVarUint(d))
    if ((info & BIT6) !== 0) skipVarString(d)
  }
  skipContent(d, ref)
}

function readLayout(update: Uint8Array): UpdateLayout {
  const d = decoding.createDecoder(update)
  const structClients = new Map<number, number>()
  const sections = decoding.readVarUint(d)
  const sectionClients: number[] = []
  const sectionStarts: number[] = []
  // Usually one or a few sections (a linear scan); a set for the rare update with many.
  const seen = sections > 8 ? new Set<number>() : null
  for (let i = 0; i < sections; i++) {
    sectionStarts.push(d.pos)
    const structs = decoding.readVarUint(d)
    const client = decoding.readVarUint(d)
    const clock = decoding.readVarUint(d)
    // Yjs writes each client once; reading a second section, it would drop the first.
    if (seen ? seen.has(client) : sectionClients.includes(client)) throw new MalformedUpdate(`client ${client} has two struct sections`)
    seen?.add(client)
    sectionClients.push(client)
    if (structs > 0) structClients.set(client, clock)
    for (let j = 0; j < structs; j++) skipStruct(d)
  }
  const sectionsEnd = d.pos
  const deleteEntries = decoding.readVarUint(d)
  const deletesStart = d.pos
  for (let i = 0; i < deleteEntries; i++) {
    skipVarUint(d) // client
    const ranges = decoding.readVarUint(d)
    for (let j = 0; j < ranges; j++) (skipVarUint(d), skipVarUint(d))
  }
  return { structClients, sectionClients, sectionStarts, sectionsEnd, deleteEntries, deletesStart, deletesEnd: d.pos }
}

/** Reads an update's layout; throws MalformedUpdate when it is not a well-formed V1 update. */
export function readUpdateLayout(update: Uint8Array): UpdateLayout {
  try {
    return readLayout(update)
  } catch (err) {
    if (err instanceof MalformedUpdate) throw err
    // lib0 throws plain errors at the end of the input or on integers out of range.
    throw new MalformedUpdate((err as Error).message)
  }
}
