/**
 * A raw, lossless view of a Yjs V1 update for structure-aware mutation: sections of structs
 * with their ids, parents and content bytes, and the delete set. Unlike Yjs it keeps what a
 * real decoder would refuse to build (ids that point nowhere, unknown type refs), so a
 * mutated structure can be encoded back byte for byte.
 *
 * Format (yjs/src/utils/encoding.js, UpdateEncoderV1):
 *   update  = varUint(#sections) section* deleteSet
 *   section = varUint(#structs) varUint(client) varUint(clock) struct*
 *   struct  = info:uint8 ( GC: varUint(len) | Skip: varUint(len) | Item: ids, parent, content )
 *   deleteSet = varUint(#entries) ( varUint(client) varUint(#ranges) (varUint(clock) varUint(len))* )*
 */
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'

export interface Id {
  client: number
  clock: number
}

export type Parent = { root: string } | { id: Id }

export interface Struct {
  /** Content ref (low 5 bits of the info byte): 0 GC, 10 Skip, 1..9 item content. */
  ref: number
  /** GC and Skip: their length. */
  len: number
  origin: Id | null
  rightOrigin: Id | null
  /** Written only when there is neither origin nor right origin. */
  parent: Parent | null
  parentSub: string | null
  /** The item's content bytes as encoded (after the parent info). */
  content: Uint8Array
  /** Length in clock units (content-derived), -1 when not known without decoding. */
  length: number
  /** Extra info bits to force (for inconsistent-info mutations); usually 0. */
  forceBits?: number
}

export interface Section {
  client: number
  clock: number
  structs: Struct[]
  /** When set, written instead of structs.length (a count that lies). */
  countOverride?: number
}

export interface DsEntry {
  client: number
  ranges: Array<[number, number]>
  countOverride?: number
}

export interface RawUpdate {
  sections: Section[]
  ds: DsEntry[]
  /** Bytes after the delete set (normally none). */
  trailing: Uint8Array
}

const BITS5 = 31
const BIT6 = 32
const BIT7 = 64
const BIT8 = 128

function readId(d: decoding.Decoder): Id {
  return { client: decoding.readVarUint(d), clock: decoding.readVarUint(d) }
}

function skipBytes(d: decoding.Decoder, n: number): void {
  if (d.pos + n > d.arr.length) throw new RangeError('unexpected end')
  d.pos += n
}
const skipString = (d: decoding.Decoder) => skipBytes(d, decoding.readVarUint(d))

function skipAny(d: decoding.Decoder): void {
  decoding.readAny(d)
}

/** Skips item content by ref and returns its length in clock units (-1 when unknown). */
function skipContent(d: decoding.Decoder, ref: number): number {
  switch (ref) {
    case 1:
      return decoding.readVarUint(d)
    case 2: {
      const n = decoding.readVarUint(d)
      for (let i = 0; i < n; i++) skipString(d)
      return n
    }
    case 3:
      skipString(d)
      return 1
    case 4: {
      const s = decoding.readVarString(d)
      return s.length
    }
    case 5:
      skipString(d)
      return 1
    case 6:
      skipString(d)
      skipString(d)
      return 1
    case 7: {
      const t = decoding.readVarUint(d)
      if (t === 3 || t === 5) skipString(d)
      return 1
    }
    case 8: {
      const n = decoding.readVarUint(d)
      for (let i = 0; i < n; i++) skipAny(d)
      return n
    }
    case 9:
      skipString(d)
      skipAny(d)
      return 1
    default:
      throw new RangeError(`unknown content ref ${ref}`)
  }
}

/** Parses a V1 update; throws on anything it cannot read. */
export function parseUpdate(update: Uint8Array): RawUpdate {
  const d = decoding.createDecoder(update)
  const n = decoding.readVarUint(d)
  if (n > update.length) throw new RangeError('too many sections')
  const sections: Section[] = []
  for (let i = 0; i < n; i++) {
    const count = decoding.readVarUint(d)
    if (count > update.length) throw new RangeError('too many structs')
    const client = decoding.readVarUint(d)
    const clock = decoding.readVarUint(d)
    const structs: Struct[] = []
    for (let j = 0; j < count; j++) {
      const info = decoding.readUint8(d)
      const ref = info & BITS5
      if (ref === 0 || ref === 10) {
        const len = decoding.readVarUint(d)
        structs.push({ ref, len, origin: null, rightOrigin: null, parent: null, parentSub: null, content: new Uint8Array(0), length: len })
        continue
      }
      const origin = info & BIT8 ? readId(d) : null
      const rightOrigin = info & BIT7 ? readId(d) : null
      let parent: Parent | null = null
      let parentSub: string | null = null
      if ((info & (BIT7 | BIT8)) === 0) {
        parent = decoding.readVarUint(d) === 1 ? { root: decoding.readVarString(d) } : { id: readId(d) }
        if (info & BIT6) parentSub = decoding.readVarString(d)
      }
      const start = d.pos
      const length = skipContent(d, ref)
      // Yjs sets BIT6 for a map item even when its parent info is not written (it has origins).
      const forceBits = info & BIT6 && parentSub === null ? BIT6 : 0
      structs.push({ ref, len: 0, origin, rightOrigin, parent, parentSub, content: update.slice(start, d.pos), length, forceBits })
    }
    sections.push({ client, clock, structs })
  }
  const dsn = decoding.readVarUint(d)
  if (dsn > update.length) throw new RangeError('too many delete entries')
  const ds: DsEntry[] = []
  for (let i = 0; i < dsn; i++) {
    const client = decoding.readVarUint(d)
    const rn = decoding.readVarUint(d)
    if (rn > update.length) throw new RangeError('too many ranges')
    const ranges: Array<[number, number]> = []
    for (let j = 0; j < rn; j++) ranges.push([decoding.readVarUint(d), decoding.readVarUint(d)])
    ds.push({ client, ranges })
  }
  return { sections, ds, trailing: update.slice(d.pos) }
}

/** An encoder that remembers where each varUint starts (for bit flips in varUints). */
export class Writer {
  readonly enc = encoding.createEncoder()
  readonly varUints: number[] = []
  uint(n: number): void {
    this.varUints.push(encoding.length(this.enc))
    encoding.writeVarUint(this.enc, n)
  }
  u8(n: number): void {
    encoding.writeUint8(this.enc, n)
  }
  str(s: string): void {
    this.varUints.push(encoding.length(this.enc))
    encoding.writeVarString(this.enc, s)
  }
  raw(b: Uint8Array): void {
    encoding.writeUint8Array(this.enc, b)
  }
  bytes(): Uint8Array {
    return encoding.toUint8Array(this.enc)
  }
}

export function writeStruct(w: Writer, s: Struct): void {
  if (s.ref === 0 || s.ref === 10) {
    w.u8(s.ref | (s.forceBits ?? 0))
    w.uint(s.len)
    return
  }
  const writesParent = !s.origin && !s.rightOrigin
  // A forced BIT6 (kept from Yjs's encoding of a map item with origins) only where no parent info follows.
  const force = (s.forceBits ?? 0) & (writesParent ? ~BIT6 : 0xff)
  const info = (s.ref & BITS5) | (s.origin ? BIT8 : 0) | (s.rightOrigin ? BIT7 : 0) | (s.parentSub !== null ? BIT6 : 0) | force
  w.u8(info & 0xff)
  if (s.origin) (w.uint(s.origin.client), w.uint(s.origin.clock))
  if (s.rightOrigin) (w.uint(s.rightOrigin.client), w.uint(s.rightOrigin.clock))
  if (writesParent) {
    const p = s.parent ?? { root: 'models' }
    if ('root' in p) {
      w.uint(1)
      w.str(p.root)
    } else {
      w.uint(0)
      w.uint(p.id.client)
      w.uint(p.id.clock)
    }
    if (s.parentSub !== null) w.str(s.parentSub)
  }
  w.raw(s.content)
}

/** Encodes a raw update; `w.varUints` then lists where each varUint starts. */
export function encodeUpdate(u: RawUpdate, w = new Writer()): Uint8Array {
  w.uint(u.sections.length)
  for (const s of u.sections) {
    w.uint(s.countOverride ?? s.structs.length)
    w.uint(s.client)
    w.uint(s.clock)
    for (const st of s.structs) writeStruct(w, st)
  }
  w.uint(u.ds.length)
  for (const e of u.ds) {
    w.uint(e.client)
    w.uint(e.countOverride ?? e.ranges.length)
    for (const [clock, len] of e.ranges) (w.uint(clock), w.uint(len))
  }
  w.raw(u.trailing)
  return w.bytes()
}

/** Clock range each section covers, when all lengths are known. */
export function sectionEnd(s: Section): number {
  let c = s.clock
  for (const st of s.structs) {
    if (st.length < 0) return -1
    c += st.length
  }
  return c
}

// ---- content encoders (what mutations put into items) ----

function contentWith(fn: (e: encoding.Encoder) => void): Uint8Array {
  const e = encoding.createEncoder()
  fn(e)
  return encoding.toUint8Array(e)
}

export const content = {
  deleted: (len: number) => ({ ref: 1, length: len, content: contentWith((e) => encoding.writeVarUint(e, len)) }),
  json: (items: string[]) => ({
    ref: 2,
    length: items.length,
    content: contentWith((e) => {
      encoding.writeVarUint(e, items.length)
      for (const s of items) encoding.writeVarString(e, s)
    }),
  }),
  binary: (b: Uint8Array) => ({ ref: 3, length: 1, content: contentWith((e) => encoding.writeVarUint8Array(e, b)) }),
  string: (s: string) => ({ ref: 4, length: s.length, content: contentWith((e) => encoding.writeVarString(e, s)) }),
  embed: (json: string) => ({ ref: 5, length: 1, content: contentWith((e) => encoding.writeVarString(e, json)) }),
  format: (key: string, json: string) => ({
    ref: 6,
    length: 1,
    content: contentWith((e) => {
      encoding.writeVarString(e, key)
      encoding.writeVarString(e, json)
    }),
  }),
  type: (typeRef: number, name = 'p') => ({
    ref: 7,
    length: 1,
    content: contentWith((e) => {
      encoding.writeVarUint(e, typeRef)
      if (typeRef === 3 || typeRef === 5) encoding.writeVarString(e, name)
    }),
  }),
  any: (values: unknown[]) => ({
    ref: 8,
    length: values.length,
    content: contentWith((e) => {
      encoding.writeVarUint(e, values.length)
      for (const v of values) encoding.writeAny(e, v as never)
    }),
  }),
  doc: (guid: string, opts: unknown) => ({
    ref: 9,
    length: 1,
    content: contentWith((e) => {
      encoding.writeVarString(e, guid)
      encoding.writeAny(e, opts as never)
    }),
  }),
}

/** Reads the varUint at `pos`: its value and byte length (or null when it runs off the end). */
export function varUintAt(bytes: Uint8Array, pos: number): { value: number; len: number } | null {
  let len = 0
  while (pos + len < bytes.length) {
    if ((bytes[pos + len] & 0x80) === 0) {
      try {
        return { value: decoding.readVarUint(decoding.createDecoder(bytes.subarray(pos))), len: len + 1 }
      } catch {
        return { value: -1, len: len + 1 }
      }
    }
    len++
  }
  return null
}

export function encodeVarUint(n: number): Uint8Array {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, n)
  return encoding.toUint8Array(e)
}

/** A one-line summary of a server message (for reports): sync updates decoded to sections and deletes. */
export function describeMessage(bytes: Uint8Array): string {
  try {
    const d = decoding.createDecoder(bytes)
    const type = decoding.readVarUint(d)
    if (type !== 0) return `type ${type} (${bytes.length} B)`
    const sub = decoding.readVarUint(d)
    if (sub === 0) return `sync step1 (${bytes.length} B)`
    const u = parseUpdate(decoding.readVarUint8Array(d))
    const sections = u.sections.map((s) => {
      const first = s.structs[0]
      const where = first?.parent ? ('root' in first.parent ? `root ${first.parent.root}` : `in ${first.parent.id.client}:${first.parent.id.clock}`) : first?.origin ? `after ${first.origin.client}:${first.origin.clock}` : ''
      return `${s.client}@${s.clock}×${s.structs.length}${where ? ` ${where}${first?.parentSub ? `.${first.parentSub}` : ''}` : ''}`
    })
    const ds = u.ds.map((e) => `${e.client}:[${e.ranges.slice(0, 4).map(([c, l]) => `${c}+${l}`).join(',')}${e.ranges.length > 4 ? ',…' : ''}]`)
    return `sync ${sub === 1 ? 'step2' : 'update'} (${bytes.length} B): structs ${sections.join(' ') || 'none'}; deletes ${ds.join(' ') || 'none'}`
  } catch (err) {
    return `(${bytes.length} B, undecodable: ${(err as Error).message})`
  }
}

/** Moves every id of `client` (its sections, references to its items, its delete ranges) `delta` clocks on. */
export function rebaseClient(u: RawUpdate, client: number, delta: number): void {
  if (delta === 0) return
  const shift = (id: Id | null) => {
    if (id && id.client === client) id.clock += delta
  }
  for (const s of u.sections) {
    if (s.client === client) s.clock += delta
    for (const st of s.structs) {
      shift(st.origin)
      shift(st.rightOrigin)
      if (st.parent && 'id' in st.parent) shift(st.parent.id)
    }
  }
  for (const e of u.ds) if (e.client === client) for (const r of e.ranges) r[0] += delta
}
