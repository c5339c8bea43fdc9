/**
 * y-websocket frames around the generated payloads (SPEC §7): sync step 1 / step 2 /
 * update, awareness, query-awareness, auth, and yroom's extension messages
 * (src/shared/protocol/extension.ts), each valid or malformed in a chosen way.
 */
import * as encoding from 'lib0/encoding'
import { ExtKind, PROTOCOL_VERSION } from '../../src/shared/protocol/extension.js'
import { MESSAGE_AUTH, MESSAGE_AWARENESS, MESSAGE_QUERY_AWARENESS, MESSAGE_SYNC, MESSAGE_YROOM } from '../../src/shared/protocol/message-types.js'
import { DATASTORE_ENSURE } from '../../src/shared/protocol/skeleton.js'
import { SKD_CLEAR, SKD_INSERT, SKD_REMOVE } from '../../src/shared/protocol/string-key-dictionary.js'
import { chance, int, pick, pickClient, pickClock, randomPrimitive, randomString, weighted, type IdPool, type Rng } from './gen.js'
import { Writer } from './v1.js'

/** One message to send: binary (usual) or text. `varUints` lists varUint offsets for byte mutation. */
export interface Frame {
  bytes: Uint8Array | string
  note: string
  varUints?: number[]
}

export function syncFrame(kind: 0 | 1 | 2, payload: Uint8Array): Frame {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, MESSAGE_SYNC)
  encoding.writeVarUint(e, kind)
  encoding.writeVarUint8Array(e, payload)
  return { bytes: encoding.toUint8Array(e), note: `sync ${['step1', 'step2', 'update'][kind]} (${payload.length} B)` }
}

/** A state vector: valid (the room's), or malformed in one of several ways. */
export function stateVector(rng: Rng, pool: IdPool, known: Map<number, number>): { bytes: Uint8Array; note: string; varUints: number[] } {
  const w = new Writer()
  const kind = weighted(rng, [[30, 'known'], [10, 'empty'], [15, 'odd'], [10, 'issue'], [10, 'trailing'], [10, 'short'], [10, 'many'], [5, 'hugeCount']])
  if (kind === 'issue') {
    // issue 19 #1: a count whose varUint runs over, then stray bytes
    return { bytes: new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]), note: 'sv ff ff ff ff 0f 01', varUints: [] }
  }
  if (kind === 'empty') {
    w.uint(0)
    return { bytes: w.bytes(), note: 'sv empty', varUints: w.varUints }
  }
  if (kind === 'hugeCount') {
    w.uint(pick(rng, [2 ** 31, 2 ** 32 - 1, 2 ** 53 - 1, 5]))
    w.uint(1)
    w.uint(1)
    return { bytes: w.bytes(), note: 'sv huge count', varUints: w.varUints }
  }
  if (kind === 'many') {
    const n = pick(rng, [100, 2000, 10_000])
    w.uint(n)
    for (let i = 0; i < n; i++) (w.uint(1 + int(rng, 2 ** 32 - 2)), w.uint(int(rng, 1000)))
    return { bytes: w.bytes(), note: `sv of ${n} random clients`, varUints: [] }
  }
  const entries = [...known].map(([c, k]) => [c, k] as [number, number])
  if (kind === 'odd') {
    for (let i = 0; i < 1 + int(rng, 3); i++) entries.push([pickClient(rng, pool), pickClock(rng)])
  }
  w.uint(entries.length + (kind === 'short' ? 1 + int(rng, 3) : 0))
  for (const [c, k] of entries) (w.uint(c), w.uint(k))
  if (kind === 'trailing') w.raw(new Uint8Array(1 + int(rng, 4)).map(() => int(rng, 256)))
  return { bytes: w.bytes(), note: `sv ${kind} (${entries.length} entries)`, varUints: w.varUints }
}

/** A sync step 1; the state vector's varUint offsets are kept for byte mutation (shifted by the header). */
export function syncStep1Frame(rng: Rng, pool: IdPool, known: Map<number, number>): Frame {
  const sv = stateVector(rng, pool, known)
  const f = syncFrame(0, sv.bytes)
  const header = (f.bytes as Uint8Array).length - sv.bytes.length
  return { bytes: f.bytes, note: `sync step1, ${sv.note}`, varUints: sv.varUints.map((p) => p + header) }
}

/** Awareness entries: own id, many/fake/others' ids, odd clocks, bad or deep JSON. */
export function awarenessFrame(rng: Rng, pool: IdPool): Frame {
  const n = weighted(rng, [[50, 1], [20, 2 + int(rng, 4)], [15, 10 + int(rng, 90)], [10, 500 + int(rng, 1500)], [5, 0]])
  const lie = chance(rng, 0.05)
  const base = int(rng, 2 ** 31)
  const entries: Array<[number, number, string]> = []
  let size = 0
  let note = ''
  for (let i = 0; i < n; i++) {
    const id = n > 20 && chance(rng, 0.9) ? (base + i) >>> 0 : pickClient(rng, pool)
    const clock = weighted(rng, [[60, 1 + int(rng, 5)], [20, 0], [20, pickClock(rng)]])
    const json = weighted<() => string>(rng, [
      [50, () => JSON.stringify({ user: { name: `EVIL${randomString(rng, 4)}` }, cursor: int(rng, 100) })],
      [10, () => 'null'],
      [10, () => pick(rng, ['{bad', '', 'undefined', '{"a":', '\u0000'])],
      [8, () => '['.repeat(pick(rng, [100, 5000, 20_000])) + ']'.repeat(pick(rng, [100, 5000, 20_000]))],
      [7, () => JSON.stringify({ blob: 'A'.repeat(pick(rng, [1000, 30_000, 100_000])) })],
      [10, () => JSON.stringify(randomPrimitive(rng, pool) ?? null, (_k, v) => (typeof v === 'bigint' ? Number(v) : v instanceof Uint8Array ? [...v] : v)) ?? 'null'],
      [5, () => '{"__proto__":{"polluted":true}}'],
    ])()
    // Mostly under the message limit (125 KB): a bigger message is only closed with 1009.
    if (size + json.length > 110_000 && entries.length > 0 && !chance(rng, 0.02)) break
    size += json.length + 10
    if (json.length > 1000) note += `, ${json.length} B state`
    entries.push([id, clock, json])
  }
  const w = new Writer()
  w.uint(lie ? entries.length + 1 + int(rng, 5) : entries.length)
  for (const [id, clock, json] of entries) {
    w.uint(id)
    w.uint(clock)
    w.str(json)
  }
  const payload = w.bytes()
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, MESSAGE_AWARENESS)
  encoding.writeVarUint8Array(e, payload)
  const bytes = encoding.toUint8Array(e)
  const header = bytes.length - payload.length
  return { bytes, note: `awareness of ${entries.length} entr${entries.length === 1 ? 'y' : 'ies'}${note.slice(0, 200)}${lie ? ', count lies' : ''}`, varUints: w.varUints.map((p) => p + header) }
}

function extHeader(kind: number): encoding.Encoder {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, MESSAGE_YROOM)
  encoding.writeVarUint(e, kind)
  return e
}

/** A hello (sometimes with another's id, a float, a negative or missing id). */
export function helloFrame(rng: Rng, pool: IdPool): Frame {
  const e = extHeader(ExtKind.HELLO)
  const clientID = weighted<() => unknown>(rng, [
    [50, () => pool.own],
    [25, () => pickClient(rng, pool)],
    [5, () => -1],
    [5, () => 1.5],
    [5, () => 'x'],
    [5, () => undefined],
    [5, () => 2 ** 60],
  ])()
  const body: Record<string, unknown> = { version: chance(rng, 0.9) ? PROTOCOL_VERSION : pick(rng, [0, 2, -1, 1.5]) }
  if (clientID !== undefined) body.clientID = clientID
  encoding.writeAny(e, (chance(rng, 0.05) ? pick(rng, [null, [], 'hello', 5]) : body) as never)
  return { bytes: encoding.toUint8Array(e), note: `hello ${JSON.stringify(body)}` }
}

/** An extension request: skd.*, datastore.ensure (with a Yjs update as value), unknown methods. */
export function requestFrame(rng: Rng, pool: IdPool, update: Uint8Array): Frame {
  const e = extHeader(ExtKind.REQUEST)
  encoding.writeVarUint(e, weighted(rng, [[80, int(rng, 1000)], [20, pickClock(rng)]]))
  const method = weighted(rng, [[30, DATASTORE_ENSURE], [20, SKD_INSERT], [10, SKD_REMOVE], [10, SKD_CLEAR], [10, 'nope'], [5, ''], [5, '__proto__'], [10, randomString(rng, 20)]])
  encoding.writeVarString(e, method)
  const path = weighted<() => unknown>(rng, [
    [30, () => ['models', pick(rng, ['h0', 'h1', 'h2', 'box0', 'dict', 'a'])]],
    [20, () => ['models']],
    [10, () => ['$room']],
    [10, () => ['models', 'arr0', int(rng, 3)]],
    [10, () => []],
    [10, () => 'models'],
    [10, () => ['models', 'h0', 'child', 'deeper', 'x']],
  ])()
  const params = weighted<() => unknown>(rng, [
    [35, () => ({ root: pick(rng, ['models', '$room', '', 'other', 'list']), value: update })],
    [30, () => ({ path, key: pick(rng, ['k', '$meta', '', 'x']), version: pick(rng, [0, 1, -1, 1.5, 2 ** 53]), value: update })],
    [10, () => ({ path, version: int(rng, 3) })],
    [10, () => randomPrimitive(rng, pool)],
    [5, () => ({ root: 'models', value: 'not bytes' })],
    [10, () => ({ path, key: 'k', version: 0, value: new Uint8Array([0, 0]) })],
  ])()
  encoding.writeAny(e, params as never)
  return { bytes: encoding.toUint8Array(e), note: `request ${JSON.stringify(method)} (${update.length} B value)` }
}

/** Other frames: query-awareness, auth, extension kinds a client may not send, unknown types, garbage. */
export function miscFrame(rng: Rng): Frame {
  return weighted<() => Frame>(rng, [
    [20, () => ({ bytes: new Uint8Array([MESSAGE_QUERY_AWARENESS]), note: 'query awareness' })],
    [5, () => ({ bytes: new Uint8Array([MESSAGE_QUERY_AWARENESS, 1, 2, 3]), note: 'query awareness + trailing' })],
    [8, () => ({ bytes: new Uint8Array([MESSAGE_AUTH, int(rng, 3), ...new Uint8Array(int(rng, 8)).map(() => int(rng, 256))]), note: 'auth message' })],
    [10, () => {
      const e = extHeader(pick(rng, [ExtKind.WELCOME, ExtKind.REJECTED, ExtKind.ERROR, ExtKind.RESPONSE, 6, 99, 2 ** 31]))
      encoding.writeAny(e, { changes: [{ path: ['models'], reason: 'x', message: 'y' }], code: 'c', message: 'm' } as never)
      return { bytes: encoding.toUint8Array(e), note: 'extension kind a client may not send' }
    }],
    [8, () => ({ bytes: new Uint8Array([MESSAGE_YROOM, ExtKind.HELLO, 118, 0xff, 0xff, 0xff, 0xff, 0x0f]), note: 'hello with a truncated object' })],
    [8, () => ({ bytes: new Uint8Array([pick(rng, [4, 5, 6, 8, 42, 127]), 0, 1]), note: 'unknown message type' })],
    [5, () => ({ bytes: new Uint8Array(0), note: 'empty message' })],
    [5, () => ({ bytes: new Uint8Array([0x80]), note: 'truncated varUint' })],
    [5, () => ({ bytes: new Uint8Array([MESSAGE_SYNC, pick(rng, [3, 9, 0x7f])]), note: 'unknown sync type' })],
    [10, () => ({ bytes: new Uint8Array(1 + int(rng, 64)).map(() => int(rng, 256)), note: 'random bytes' })],
    [3, () => ({ bytes: 'hello', note: 'text frame' })],
    [3, () => ({ bytes: new Uint8Array([MESSAGE_SYNC, 2, 0xff, 0xff, 0xff, 0xff, 0x0f]), note: 'update whose length runs past the frame' })],
    [5, () => ({ bytes: new Uint8Array([MESSAGE_SYNC, 0, 0]), note: 'sync step1 with an empty state vector buffer' })],
  ])()
}
