/**
 * Mutations of valid Yjs V1 updates, made on their structure (v1.ts) and then, sometimes,
 * on their bytes: client ids (0, server-like, others', huge), clocks, origins and parents
 * that point nowhere or at other clients' items, delete sets (others' ranges, huge clocks,
 * many ranges), duplicated and dropped structs and sections, content swapped for odd content,
 * counts that lie, truncation, bit flips in varUints.
 */
import { chance, int, pick, pickClient, pickClock, randomString, weighted, type IdPool, type Rng } from './gen.js'
import { content, encodeUpdate, encodeVarUint, parseUpdate, sectionEnd, varUintAt, Writer, type Id, type RawUpdate, type Section, type Struct } from './v1.js'

export interface MutationContext {
  rng: Rng
  pool: IdPool
  /** A random id of an item that exists in the room (honest content), or null. */
  knownId(): Id | null
  /** A random id of an item holding a shared type, or null. */
  typeItemId(): Id | null
  /** The room's state vector as far as the fuzzer knows it (honest clients' clocks). */
  stateVector(): Map<number, number>
}

function anyId(ctx: MutationContext, u: RawUpdate): Id {
  const { rng } = ctx
  return weighted<() => Id>(rng, [
    [30, () => ctx.knownId() ?? { client: pickClient(rng, ctx.pool), clock: pickClock(rng) }],
    [15, () => ctx.typeItemId() ?? { client: ctx.pool.own, clock: 0 }],
    [20, () => {
      // inside the update itself: another section's struct, or a clock past its end
      const s = u.sections.length ? pick(rng, u.sections) : null
      if (!s) return { client: ctx.pool.own, clock: 0 }
      const end = sectionEnd(s)
      return { client: s.client, clock: end < 0 ? s.clock : chance(rng, 0.6) ? s.clock + int(rng, Math.max(1, end - s.clock)) : end + int(rng, 3) }
    }],
    [20, () => ({ client: pickClient(rng, ctx.pool), clock: pickClock(rng) })],
    [15, () => {
      // a known client at a clock it does not have yet
      const sv = [...ctx.stateVector()]
      if (sv.length === 0) return { client: ctx.pool.own, clock: 1e6 }
      const [client, clock] = pick(rng, sv)
      return { client, clock: clock + int(rng, 3) }
    }],
  ])()
}

function randomContent(rng: Rng, pool: IdPool): Pick<Struct, 'ref' | 'length' | 'content'> {
  return weighted<() => Pick<Struct, 'ref' | 'length' | 'content'>>(rng, [
    [15, () => content.any([`EVIL:${randomString(rng)}`])],
    [8, () => content.any(Array.from({ length: 1 + int(rng, 5) }, () => int(rng, 100)))],
    [10, () => content.string(`EVIL${randomString(rng)}`)],
    [10, () => content.type(weighted(rng, [[40, 1], [20, 0], [15, 2], [5, 3], [5, 4], [5, 5], [5, 6], [5, 7 + int(rng, 100)]]), pick(rng, ['p', '', 'x'.repeat(300)]))],
    [8, () => content.deleted(pickClock(rng, 1) || 1)],
    [5, () => content.json([pick(rng, ['{"evil":1}', 'undefined', '{not json', '[[[[[', '1e999', '"x"'])])],
    [5, () => content.binary(new Uint8Array(int(rng, 64)).map(() => int(rng, 256)))],
    [5, () => content.embed(pick(rng, ['{"evil":1}', '{bad', 'null', '[]']))],
    [5, () => content.format(pick(rng, ['bold', '', '__proto__']), pick(rng, ['true', 'null', '{bad', '{"a":1}']))],
    [4, () => content.doc(pick(rng, ['', 'sub', 'x'.repeat(200)]), pick(rng, [{}, { gc: false }, null, 'str', { autoLoad: true }]))],
    [3, () => content.any([nestedAny(rng, 20 + int(rng, 200))])],
    [2, () => content.any([pickClient(rng, pool)])],
  ])()
}

/** A lib0 `any` value nested `depth` deep (the layout reader refuses more than 100). */
function nestedAny(rng: Rng, depth: number): unknown {
  let v: unknown = 'EVIL'
  for (let i = 0; i < depth; i++) v = chance(rng, 0.5) ? [v] : { k: v }
  return v
}

function newStruct(ctx: MutationContext, u: RawUpdate): Struct {
  const { rng } = ctx
  const c = randomContent(rng, ctx.pool)
  const mode = int(rng, 4)
  const origin = mode === 0 || mode === 2 ? anyId(ctx, u) : null
  const rightOrigin = mode === 1 || mode === 2 ? anyId(ctx, u) : null
  const parent = mode === 3 ? (chance(rng, 0.5) ? { root: pick(rng, ['models', '$room', 'list', randomString(rng, 5)]) } : { id: anyId(ctx, u) }) : null
  const parentSub = mode === 3 && chance(rng, 0.6) ? pick(rng, ['x', '$meta', 'ownerID', 'h0', 'h1', 'box0', randomString(rng, 5)]) : null
  return { ...c, len: 0, origin, rightOrigin, parent, parentSub }
}

function items(u: RawUpdate): Array<{ s: Section; st: Struct; i: number }> {
  const out: Array<{ s: Section; st: Struct; i: number }> = []
  for (const s of u.sections) s.structs.forEach((st, i) => out.push({ s, st, i }))
  return out
}

type StructMutation = (ctx: MutationContext, u: RawUpdate) => string | null

const M: Record<string, [number, StructMutation]> = {
  sectionClient: [14, ({ rng, pool }, u) => {
    if (!u.sections.length) return null
    const s = pick(rng, u.sections)
    s.client = pickClient(rng, { ...pool, own: pickClient(rng, pool) })
    return `section client → ${s.client}`
  }],
  sectionClock: [8, ({ rng }, u) => {
    if (!u.sections.length) return null
    const s = pick(rng, u.sections)
    s.clock = pickClock(rng, s.clock)
    return `section clock → ${s.clock}`
  }],
  origin: [12, (ctx, u) => {
    const all = items(u).filter((x) => x.st.ref !== 0 && x.st.ref !== 10)
    if (!all.length) return null
    const { st } = pick(ctx.rng, all)
    st.origin = chance(ctx.rng, 0.1) ? null : anyId(ctx, u)
    if (!st.origin && !st.rightOrigin) st.parent ??= { root: 'models' }
    return `origin → ${JSON.stringify(st.origin)}`
  }],
  rightOrigin: [8, (ctx, u) => {
    const all = items(u).filter((x) => x.st.ref !== 0 && x.st.ref !== 10)
    if (!all.length) return null
    const { st } = pick(ctx.rng, all)
    st.rightOrigin = chance(ctx.rng, 0.2) ? null : anyId(ctx, u)
    if (!st.origin && !st.rightOrigin) st.parent ??= { root: 'models' }
    return `rightOrigin → ${JSON.stringify(st.rightOrigin)}`
  }],
  parent: [10, (ctx, u) => {
    const all = items(u).filter((x) => x.st.ref !== 0 && x.st.ref !== 10)
    if (!all.length) return null
    const { rng } = ctx
    const { st } = pick(rng, all)
    st.origin = null
    st.rightOrigin = null
    st.parent = weighted<() => Struct['parent']>(rng, [
      [30, () => ({ id: ctx.typeItemId() ?? anyId(ctx, u) })],
      [30, () => ({ id: anyId(ctx, u) })],
      [25, () => ({ root: pick(rng, ['models', '$room', 'list', 'text', 'skeleton', '']) })],
      [15, () => ({ root: randomString(rng, 8) })],
    ])()
    st.parentSub = chance(rng, 0.7) ? pick(rng, ['x', 'n', '$meta', 'ownerID', 'preventOwnershipTakeover', 'h0', 'h1', 'box0', 'arr0', 'inner', randomString(rng, 6)]) : null
    return `parent → ${JSON.stringify(st.parent)} sub ${JSON.stringify(st.parentSub)}`
  }],
  parentSub: [5, ({ rng }, u) => {
    const all = items(u).filter((x) => x.st.parent !== null && !x.st.origin && !x.st.rightOrigin)
    if (!all.length) return null
    const { st } = pick(rng, all)
    st.parentSub = st.parentSub === null ? pick(rng, ['x', '$meta', 'ownerID']) : chance(rng, 0.3) ? null : randomString(rng, 6)
    return `parentSub → ${JSON.stringify(st.parentSub)}`
  }],
  content: [10, (ctx, u) => {
    const all = items(u).filter((x) => x.st.ref !== 0 && x.st.ref !== 10)
    if (!all.length) return null
    const x = pick(ctx.rng, all)
    Object.assign(x.st, randomContent(ctx.rng, ctx.pool))
    return `content → ref ${x.st.ref}`
  }],
  addStruct: [8, (ctx, u) => {
    if (!u.sections.length) u.sections.push({ client: ctx.pool.own, clock: 0, structs: [] })
    const s = pick(ctx.rng, u.sections)
    s.structs.splice(int(ctx.rng, s.structs.length + 1), 0, newStruct(ctx, u))
    return 'added struct'
  }],
  dropStruct: [6, ({ rng }, u) => {
    const all = items(u)
    if (!all.length) return null
    const x = pick(rng, all)
    x.s.structs.splice(x.i, 1)
    return `dropped struct ${x.i} of ${x.s.client}`
  }],
  dupStruct: [5, ({ rng }, u) => {
    const all = items(u)
    if (!all.length) return null
    const x = pick(rng, all)
    x.s.structs.splice(x.i, 0, { ...x.st })
    return `duplicated struct ${x.i} of ${x.s.client}`
  }],
  swapStructs: [3, ({ rng }, u) => {
    const s = u.sections.find((x) => x.structs.length > 1)
    if (!s) return null
    const i = int(rng, s.structs.length)
    const j = int(rng, s.structs.length)
    ;[s.structs[i], s.structs[j]] = [s.structs[j], s.structs[i]]
    return 'swapped structs'
  }],
  gcOrSkip: [4, ({ rng }, u) => {
    if (!u.sections.length) return null
    const s = pick(rng, u.sections)
    const len = pick(rng, [1, 2, 100, 2 ** 30, 2 ** 53 - 1, 0])
    s.structs.splice(int(rng, s.structs.length + 1), 0, { ref: pick(rng, [0, 10]), len, length: len, origin: null, rightOrigin: null, parent: null, parentSub: null, content: new Uint8Array(0) })
    return `GC/Skip of ${len}`
  }],
  dupSection: [4, (ctx, u) => {
    if (!u.sections.length) return null
    const s = pick(ctx.rng, u.sections)
    const copy: Section = { client: chance(ctx.rng, 0.3) ? s.client : pickClient(ctx.rng, ctx.pool), clock: s.clock, structs: s.structs.map((x) => ({ ...x })) }
    u.sections.splice(int(ctx.rng, u.sections.length + 1), 0, copy)
    return `section copied as client ${copy.client}`
  }],
  newSection: [6, (ctx, u) => {
    const client = pickClient(ctx.rng, ctx.pool)
    const structs = Array.from({ length: 1 + int(ctx.rng, 3) }, () => newStruct(ctx, u))
    u.sections.splice(int(ctx.rng, u.sections.length + 1), 0, { client, clock: pickClock(ctx.rng), structs })
    return `new section of ${client}`
  }],
  dropSection: [2, ({ rng }, u) => {
    if (!u.sections.length) return null
    u.sections.splice(int(rng, u.sections.length), 1)
    return 'dropped section'
  }],
  countLie: [3, ({ rng }, u) => {
    if (u.sections.length && chance(rng, 0.7)) {
      const s = pick(rng, u.sections)
      s.countOverride = pick(rng, [s.structs.length + 1, Math.max(0, s.structs.length - 1), 2 ** 31, 0])
      return `struct count → ${s.countOverride}`
    }
    if (!u.ds.length) return null
    const e = pick(rng, u.ds)
    e.countOverride = pick(rng, [e.ranges.length + 1, 2 ** 30])
    return `range count → ${e.countOverride}`
  }],
  deleteOthers: [12, (ctx, u) => {
    const { rng } = ctx
    const sv = [...ctx.stateVector()]
    const [client, clock] = sv.length && chance(rng, 0.7) ? pick(rng, sv) : [pickClient(rng, ctx.pool), pickClock(rng)]
    const ranges: Array<[number, number]> = weighted<() => Array<[number, number]>>(rng, [
      [40, () => [[int(rng, Math.max(1, clock)), 1 + int(rng, 3)]]],
      [20, () => [[0, Math.max(1, clock)]]],
      [10, () => [[pickClock(rng, clock), pickClock(rng, 1)]]],
      [10, () => Array.from({ length: 1 + int(rng, 2000) }, (_, i) => [i * 2, 1] as [number, number])],
      [10, () => [[5, 3], [0, 10], [2, 0]]],
      [10, () => [[2 ** 53 - 1, 2 ** 53 - 1]]],
    ])()
    const existing = u.ds.find((e) => e.client === client)
    if (existing && chance(rng, 0.7)) existing.ranges.push(...ranges)
    else u.ds.push({ client, ranges })
    return `delete ${ranges.length} range(s) of ${client}`
  }],
  dsClient: [3, ({ rng, pool }, u) => {
    if (!u.ds.length) return null
    const e = pick(rng, u.ds)
    e.client = pickClient(rng, pool)
    return `delete entry client → ${e.client}`
  }],
  trailing: [2, ({ rng }, u) => {
    u.trailing = new Uint8Array(1 + int(rng, 8)).map(() => int(rng, 256))
    return 'trailing bytes'
  }],
  manySections: [1, (ctx, u) => {
    const n = pick(ctx.rng, [50, 500, 3000])
    for (let i = 0; i < n; i++) u.sections.push({ client: 100_000 + i * 7 + int(ctx.rng, 7), clock: 0, structs: [newStruct(ctx, u)] })
    return `${n} more sections`
  }],
}
const STRUCT_MUTATIONS = Object.entries(M).map(([name, [w, fn]]) => [w, { name, fn }] as const)

/** Structure-aware mutation: 1..4 mutations of the parsed update. Null when it does not parse. */
export function mutateStructure(ctx: MutationContext, update: Uint8Array): { bytes: Uint8Array; notes: string[]; w: Writer } | null {
  let u: RawUpdate
  try {
    u = parseUpdate(update)
  } catch {
    return null
  }
  const notes: string[] = []
  const n = weighted(ctx.rng, [[50, 1], [30, 2], [15, 3], [5, 4]])
  for (let i = 0; i < n; i++) {
    const m = weighted(ctx.rng, STRUCT_MUTATIONS)
    const note = m.fn(ctx, u)
    if (note) notes.push(`${m.name}: ${note}`)
  }
  const w = new Writer()
  return { bytes: encodeUpdate(u, w), notes, w }
}

/** Byte-level mutations, aimed at varUints when their positions are known. */
export function mutateBytes(rng: Rng, bytes: Uint8Array, varUints: readonly number[] = []): { bytes: Uint8Array; note: string } {
  const b = bytes
  const atVarUint = varUints.length > 0 && chance(rng, 0.7)
  if (atVarUint) {
    const pos = pick(rng, varUints)
    const cur = varUintAt(b, pos)
    if (cur) {
      const kind = int(rng, 5)
      if (kind === 0) {
        // continuation bit on the last byte: the varUint swallows the next byte(s)
        const out = b.slice()
        out[pos + cur.len - 1] |= 0x80
        return { bytes: out, note: `varUint@${pos}: continuation bit` }
      }
      if (kind === 1 || kind === 2) {
        const value = kind === 1 ? pick(rng, [0, 1, 2 ** 31, 2 ** 32 - 1, 2 ** 53 - 1, 2 ** 60]) : Math.max(0, cur.value + pick(rng, [-1, 1, 2, 1000]))
        const enc = value > 2 ** 53 ? new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]) : encodeVarUint(value)
        const out = new Uint8Array(b.length - cur.len + enc.length)
        out.set(b.subarray(0, pos))
        out.set(enc, pos)
        out.set(b.subarray(pos + cur.len), pos + enc.length)
        return { bytes: out, note: `varUint@${pos}: ${cur.value} → ${value}` }
      }
      if (kind === 3) {
        const out = b.slice()
        out[pos + int(rng, cur.len)] ^= 1 << int(rng, 7)
        return { bytes: out, note: `varUint@${pos}: bit flip` }
      }
      return { bytes: b.slice(0, pos + int(rng, cur.len + 1)), note: `truncated inside varUint@${pos}` }
    }
  }
  const kind = weighted(rng, [[30, 'truncate'], [30, 'flip'], [15, 'insert'], [15, 'dup'], [10, 'byte']])
  if (kind === 'truncate') {
    const at = int(rng, b.length + 1)
    return { bytes: b.slice(0, at), note: `truncated at ${at}/${b.length}` }
  }
  if (kind === 'flip') {
    const out = b.slice()
    const k = 1 + int(rng, 3)
    for (let i = 0; i < k && out.length; i++) out[int(rng, out.length)] ^= 1 << int(rng, 8)
    return { bytes: out, note: `${k} bit flip(s)` }
  }
  if (kind === 'insert') {
    const at = int(rng, b.length + 1)
    const ins = new Uint8Array(1 + int(rng, 6)).map(() => pick(rng, [0, 0x7f, 0x80, 0xff, int(rng, 256)]))
    const out = new Uint8Array(b.length + ins.length)
    out.set(b.subarray(0, at))
    out.set(ins, at)
    out.set(b.subarray(at), at + ins.length)
    return { bytes: out, note: `inserted ${ins.length} bytes at ${at}` }
  }
  if (kind === 'dup') {
    const from = int(rng, b.length + 1)
    const to = Math.min(b.length, from + 1 + int(rng, 32))
    const out = new Uint8Array(b.length + (to - from))
    out.set(b.subarray(0, to))
    out.set(b.subarray(from, to), to)
    out.set(b.subarray(to), to + (to - from))
    return { bytes: out, note: `duplicated bytes ${from}..${to}` }
  }
  const out = b.slice()
  if (out.length) out[int(rng, out.length)] = int(rng, 256)
  return { bytes: out, note: 'random byte' }
}
