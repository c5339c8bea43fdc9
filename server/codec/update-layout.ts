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
import * as Y from 'yjs'
import { jsonBytesTooDeep, MAX_JSON_DEPTH } from '../../src/shared/protocol/json-depth.js'
import { skipAny } from '../../src/shared/protocol/any-value.js'

export interface UpdateLayout {
  /** Clients that author structs in the update, mapped to their first clock. */
  structClients: Map<number, number>
  /** The client of each struct section, in order (each at most once; a section may be empty). */
  sectionClients: number[]
  /** Where each section starts; it ends where the next starts, the last at `sectionsEnd`. */
  sectionStarts: number[]
  /** Each section's struct count, where its structs start (after its header), first clock. */
  sectionStructs: number[]
  structsStarts: number[]
  sectionClocks: number[]
  /** Each section's end clock (first clock + lengths), or -1 when a length is not known. */
  sectionEndClocks: number[]
  sectionsEnd: number
  /**
   * Some item of the update refers to another client's item (as a neighbour or parent) or
   * sits directly in a root type, or the update deletes items of a client that authors no
   * section in it. An update that does none of this (a client overwriting or extending its
   * own content) cannot touch what someone else owns unless ownership changed under it, so
   * it may wait for the tick (inbox.ts).
   */
  touchesOthers: boolean
  /** Number of items that create a shared type (nesting is checked only when some do: nesting.ts). */
  newTypes: number
  /**
   * Every item that has a right origin, five numbers each: the index of its section, then
   * its left and right origin ids (client, clock, client, clock; the left client is -1 when
   * there is no left origin). They must be neighbours in one list, which is not a map's
   * (origins.ts).
   */
  neighbours: number[]
  /** Some item with a right origin is not the first struct of its section (origins.ts: checked once integrated too). */
  laterNeighbours: boolean
  /** Number of subdocument items (not served: each costs the server a Y.Doc, ~2.5 KB, for ~50 bytes sent). */
  subdocs: number
  /** Number of delete-set entries and their byte range (after the entry count). */
  deleteEntries: number
  deletesStart: number
  deletesEnd: number
}

export class MalformedUpdate extends Error {}

/**
 * Highest clock an update may reach (2^40, a million million operations of one client id).
 * Clocks are JavaScript numbers: near 2^53 additions lose precision, two structs get one
 * clock, and no lookup by id (judging, compensation) can be trusted any more.
 */
export const MAX_CLOCK = 2 ** 40

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

/** Skips a string holding JSON text, refusing one nested too deeply to encode again (json-depth.ts). */
function skipJsonString(d: decoding.Decoder): void {
  const n = decoding.readVarUint(d)
  const from = d.pos
  skip(d, n)
  if (jsonBytesTooDeep(d.arr, from, from + n)) throw new MalformedUpdate(`JSON value nested deeper than ${MAX_JSON_DEPTH}`)
}

/** Length (in clock units) of a string that is all ASCII, or -1 (see skipContent). */
function skipAsciiLength(d: decoding.Decoder): number {
  const n = decoding.readVarUint(d)
  const start = d.pos
  skip(d, n)
  for (let i = start; i < start + n; i++) if (d.arr[i] >= 0x80) return -1
  return n
}

/**
 * Skips an item's content (yjs contentRefs, by the low 5 bits of its info byte) and returns
 * its length in clock units, or -1 when it is not known without decoding: a string's length
 * counts UTF-16 units of its decoded text, so only an ASCII string's is taken from its bytes.
 */
function skipContent(d: decoding.Decoder, ref: number): number {
  switch (ref) {
    case 1: // deleted: length
      return decoding.readVarUint(d)
    case 2: {
      // JSON: count, then strings
      const n = decoding.readVarUint(d)
      for (let i = 0; i < n; i++) skipJsonString(d)
      return n
    }
    case 4: // string
      return skipAsciiLength(d)
    case 3: // binary
      skipVarString(d)
      return 1
    case 5: // embed (JSON string)
      skipJsonString(d)
      return 1
    case 6: // format: key, value (JSON string)
      skipVarString(d)
      skipJsonString(d)
      return 1
    case 7: {
      // type: type ref, plus a node name for XmlElement (3) and XmlHook (5)
      newTypes++
      const typeRef = decoding.readVarUint(d)
      if (typeRef === 3 || typeRef === 5) skipVarString(d)
      return 1
    }
    case 8: {
      // any: count, then values
      const n = decoding.readVarUint(d)
      for (let i = 0; i < n; i++) skipAny(d)
      return n
    }
    case 9: // subdocument: guid, options
      subdocs++
      skipVarString(d)
      skipAny(d)
      return 1
    default:
      throw new MalformedUpdate(`unknown content type ${ref}`)
  }
}

/**
 * Set by skipStruct when an item refers to another client's item (its neighbours or its
 * parent) or sits directly in a root type; read and reset by readLayout. Module state
 * rather than a result object: this runs for every struct of every update.
 */
let touchesOthers = false
/** Items creating a shared type, and subdocuments, counted by skipContent; module state for the same reason. */
let newTypes = 0
let subdocs = 0
/** Items that have a right origin: section, origin and right origin ids (see UpdateLayout.neighbours). */
let neighbours: number[] = []
/** The section being read, and whether an item with a right origin came after its first struct. */
let section = 0
let laterNeighbours = false
let firstStruct = true

/** Reads an id's client (skipping its clock) and notes whether it is not `client`'s. */
function readIdOf(d: decoding.Decoder, client: number): void {
  if (decoding.readVarUint(d) !== client) touchesOthers = true
  skipVarUint(d)
}

/** Skips one struct of `client`; returns its length in clock units, or -1 when not known (skipContent). */
function skipStruct(d: decoding.Decoder, client: number): number {
  const info = readByte(d)
  const ref = info & BITS5
  if (ref === 0 || ref === 10) {
    // GC or Skip: a length
    return decoding.readVarUint(d)
  }
  if ((info & BIT7) !== 0) {
    // A right origin, with or without a left one: recorded, for the checks of origins.ts
    // (no left origin: -1).
    let oc = -1
    let ok = 0
    if ((info & BIT8) !== 0) {
      oc = decoding.readVarUint(d)
      ok = decoding.readVarUint(d)
      if (oc !== client) touchesOthers = true
    }
    const rc = decoding.readVarUint(d)
    const rk = decoding.readVarUint(d)
    if (rc !== client) touchesOthers = true
    neighbours.push(section, oc, ok, rc, rk)
    if (!firstStruct) laterNeighbours = true
    return skipContent(d, ref)
  }
  if ((info & BIT8) !== 0) {
    readIdOf(d, client) // only a left origin
  } else {
    // Parent: a root type's name or the id of the item holding the type; then the map key.
    if (decoding.readVarUint(d) === 1) {
      skipVarString(d)
      touchesOthers = true // a root is everyone's (and holds the server's $room)
    } else {
      readIdOf(d, client)
    }
    if ((info & BIT6) !== 0) skipVarString(d)
  }
  return skipContent(d, ref)
}

function readLayout(update: Uint8Array): UpdateLayout {
  touchesOthers = false
  newTypes = 0
  subdocs = 0
  neighbours = []
  laterNeighbours = false
  const d = decoding.createDecoder(update)
  const structClients = new Map<number, number>()
  const sections = decoding.readVarUint(d)
  // A section takes at least three bytes; the bound also keeps the arrays below honest.
  if (sections * 3 > update.length) throw new MalformedUpdate(`${sections} sections cannot fit in ${update.length} bytes`)
  // Sized once: most updates have one section, and a grown array would reserve 16 slots.
  const sectionClients = new Array<number>(sections)
  const sectionStarts = new Array<number>(sections)
  const sectionStructs = new Array<number>(sections)
  const structsStarts = new Array<number>(sections)
  const sectionClocks = new Array<number>(sections)
  const sectionEndClocks = new Array<number>(sections)
  // Usually one or a few sections (a linear scan); a set for the rare update with many.
  const seen = sections > 8 ? new Set<number>() : null
  for (let i = 0; i < sections; i++) {
    sectionStarts[i] = d.pos
    const structs = decoding.readVarUint(d)
    const client = decoding.readVarUint(d)
    const clock = decoding.readVarUint(d)
    // Yjs writes each client once; reading a second section, it would drop the first.
    if (seen ? seen.has(client) : sectionClients.indexOf(client) !== -1) throw new MalformedUpdate(`client ${client} has two struct sections`)
    seen?.add(client)
    sectionClients[i] = client
    if (structs > 0) structClients.set(client, clock)
    sectionStructs[i] = structs
    structsStarts[i] = d.pos
    sectionClocks[i] = clock
    let end = clock
    // An upper bound of the end clock, also when a length is not known: a string takes
    // at least as many bytes as UTF-16 units.
    let bound = clock
    section = i
    for (let j = 0; j < structs; j++) {
      const from = d.pos
      firstStruct = j === 0
      const len = skipStruct(d, client)
      // Yjs never writes an empty struct, and an empty one breaks its store (lookups by
      // clock assume every struct covers at least one).
      if (len === 0) throw new MalformedUpdate(`empty struct of client ${client}`)
      end = end < 0 || len < 0 ? -1 : end + len
      bound += len >= 0 ? len : d.pos - from
      if (bound > MAX_CLOCK) throw new MalformedUpdate(`clock of client ${client} past ${MAX_CLOCK}`)
    }
    if (clock > MAX_CLOCK) throw new MalformedUpdate(`clock of client ${client} past ${MAX_CLOCK}`)
    sectionEndClocks[i] = end
  }
  const sectionsEnd = d.pos
  const deleteEntries = decoding.readVarUint(d)
  const deletesStart = d.pos
  for (let i = 0; i < deleteEntries; i++) {
    // Deleting what a client that authors no section here wrote touches others.
    const client = decoding.readVarUint(d)
    if (seen ? !seen.has(client) : sectionClients.indexOf(client) === -1) touchesOthers = true
    const ranges = decoding.readVarUint(d)
    for (let j = 0; j < ranges; j++) {
      const clock = decoding.readVarUint(d)
      const len = decoding.readVarUint(d)
      if (len === 0) throw new MalformedUpdate(`empty deleted range of client ${client}`)
      if (clock + len > MAX_CLOCK) throw new MalformedUpdate(`deleted range of client ${client} past ${MAX_CLOCK}`)
    }
  }
  return {
    structClients,
    sectionClients,
    sectionStarts,
    sectionStructs,
    structsStarts,
    sectionClocks,
    sectionEndClocks,
    sectionsEnd,
    deleteEntries,
    deletesStart,
    deletesEnd: d.pos,
    touchesOthers,
    newTypes,
    subdocs,
    neighbours,
    laterNeighbours,
  }
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

/**
 * The update's delete set as Yjs's DeleteSet shape (client → sorted { clock, len }), read
 * from the bytes the layout located; for the rare checks that need it (transaction-view.ts).
 */
export function readDeleteSet(update: Uint8Array, layout: UpdateLayout): Y.Transaction['deleteSet'] {
  const ds = Y.createDeleteSet()
  const clients = ds.clients as Map<number, Array<{ clock: number; len: number }>>
  const d = decoding.createDecoder(update)
  d.pos = layout.deletesStart
  for (let i = 0; i < layout.deleteEntries; i++) {
    const client = decoding.readVarUint(d)
    const n = decoding.readVarUint(d)
    let ranges = clients.get(client)
    if (!ranges) clients.set(client, (ranges = []))
    for (let j = 0; j < n; j++) ranges.push({ clock: decoding.readVarUint(d), len: decoding.readVarUint(d) })
  }
  for (const ranges of clients.values()) ranges.sort((a, b) => a.clock - b.clock)
  return ds
}
