/**
 * The fuzzer's findings (issue 19), minimized to a few bytes each and kept as fixed cases.
 * Each runs against an in-process server with the plugins `yroom serve` enables, an owner
 * holding a model with preventOwnershipTakeover, an observer, and raw attacker frames
 * written with the fuzzer's own update encoder (v1.ts), so the bytes are readable.
 */
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import WebSocket from 'ws'
import { defaultPlugins } from '../../plugins/index.js'
import { MESSAGE_SYNC } from '../../src/shared/protocol/message-types.js'
import { connectProvider, startServer, until, type ProviderClient, type TestServer } from '../helpers.js'
import { content, encodeUpdate, type Section, type Struct } from './v1.js'

const OWNER = 1_000_001
const ATTACKER = 2_000_002

let s: TestServer | undefined
const clients: ProviderClient[] = []
const sockets: WebSocket[] = []

afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy()
  for (const w of sockets.splice(0)) w.terminate()
  await s?.close()
  s = undefined
})

async function join(room: string, id: number): Promise<ProviderClient> {
  const doc = new Y.Doc()
  doc.clientID = id
  const c = await connectProvider(s!.url, room, { doc })
  clients.push(c)
  return c
}

/** An owner with `models.m` (owned, takeover prevented) and an observer that records every state it sees. */
async function setup(room: string) {
  s = await startServer({ plugins: defaultPlugins(), tickMs: 50 })
  const owner = await join(room, OWNER)
  owner.doc.transact(() => {
    const m = new Y.Map<unknown>()
    const meta = new Y.Map<unknown>()
    meta.set('ownerID', OWNER)
    meta.set('preventOwnershipTakeover', true)
    m.set('$meta', meta)
    m.set('x', 1)
    owner.doc.getMap('models').set('m', m)
  })
  const observer = await join(room, OWNER + 2)
  await until(() => observer.doc.getMap('models').has('m'))
  const seen: string[] = []
  observer.doc.on('afterTransaction', () => seen.push(JSON.stringify(observer.doc.getMap('models').toJSON())))
  const ws = new WebSocket(`${s.url}/${room}`)
  sockets.push(ws)
  ws.on('error', () => {})
  await new Promise((r) => ws.once('open', r))
  const sendUpdate = (u: Uint8Array) => {
    const e = encoding.createEncoder()
    encoding.writeVarUint(e, MESSAGE_SYNC)
    encoding.writeVarUint(e, 2)
    encoding.writeVarUint8Array(e, u)
    ws.send(encoding.toUint8Array(e))
  }
  const modelItem = (owner.doc.getMap('models') as Y.Map<unknown>)._map.get('m')!
  return { owner, observer, seen, sendUpdate, modelId: { client: modelItem.id.client, clock: modelItem.id.clock } }
}

const item = (c: Pick<Struct, 'ref' | 'length' | 'content'>, at: Partial<Pick<Struct, 'origin' | 'rightOrigin' | 'parent' | 'parentSub'>>): Struct => ({
  ...c,
  len: 0,
  origin: null,
  rightOrigin: null,
  parent: null,
  parentSub: null,
  ...at,
})
const update = (sections: Section[], ds: Array<{ client: number; ranges: Array<[number, number]> }> = []) => encodeUpdate({ sections, ds, trailing: new Uint8Array(0) })
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** A late joiner's view of models.m, once synced. */
async function lateView(room: string): Promise<unknown> {
  const late = await join(room, OWNER + 3)
  return (late.doc.getMap('models').toJSON() as Record<string, unknown>).m
}

describe('fuzzer findings (issue 19)', () => {
  it('a section that starts below the clocks the server has cannot re-home its rest into an owned model', async () => {
    const room = 'finding-overlap'
    const t = await setup(room)
    // 1. C:0 writes models.m.inner (refused and compensated).
    t.sendUpdate(update([{ client: ATTACKER, clock: 0, structs: [item(content.any(['evil']), { parent: { id: t.modelId }, parentSub: 'inner' })] }]))
    await sleep(150)
    // 2. C:0..4, a string in the root 'text': Yjs integrates its rest (C:1..4) after C:0,
    //    i.e. into models.m.inner, while the server judged it by its decoded parent ('text').
    t.sendUpdate(update([{ client: ATTACKER, clock: 0, structs: [item(content.string('EVILN'), { parent: { root: 'text' } })] }]))
    await sleep(300)
    expect(await lateView(room)).toEqual({ $meta: { ownerID: OWNER, preventOwnershipTakeover: true }, x: 1 })
    for (const v of t.seen) expect(JSON.parse(v).m).toEqual({ $meta: { ownerID: OWNER, preventOwnershipTakeover: true }, x: 1 })
  })

  it('an item whose origin and right origin lie in different maps does not make a late joiner lose an owned model', async () => {
    const room = 'finding-crossed-origins'
    const t = await setup(room)
    const meta = (t.owner.doc.getMap('models').get('m') as Y.Map<unknown>).get('$meta') as Y.Map<unknown>
    const ownerIdItem = meta._map.get('ownerID')!
    // Left: the model's own item (models.m's key chain). Right: the ownerID item inside its $meta.
    // The server and the observer integrate it after models.m (and reject it); a late joiner,
    // reading the server's encoding, integrates it elsewhere and ends up without models.m.
    t.sendUpdate(update([{ client: ATTACKER, clock: 0, structs: [item(content.any(['EVIL']), { origin: t.modelId, rightOrigin: { client: ownerIdItem.id.client, clock: ownerIdItem.id.clock } })] }]))
    await sleep(300)
    for (const v of t.seen) expect(JSON.parse(v).m).toEqual({ $meta: { ownerID: OWNER, preventOwnershipTakeover: true }, x: 1 })
    expect(await lateView(room)).toEqual({ $meta: { ownerID: OWNER, preventOwnershipTakeover: true }, x: 1 })
  })

  it('large awareness states relayed in one tick do not get stock clients closed for echoing them', async () => {
    const room = 'finding-awareness-echo'
    s = await startServer({ plugins: defaultPlugins(), tickMs: 50 })
    const honest = await join(room, OWNER)
    const closes: string[] = []
    honest.provider.on('connection-close', (e) => closes.push(`${e?.code} ${e?.reason}`))
    // Two connections each publish one state of 70 KB (each message under the limit). The
    // server relays both in one awareness message; y-websocket's provider broadcasts every
    // awareness change it applies, so it sends the 140 KB back and is closed with 1009.
    const frame = (id: number) => {
      const p = encoding.createEncoder()
      encoding.writeVarUint(p, 1)
      encoding.writeVarUint(p, id)
      encoding.writeVarUint(p, 1)
      encoding.writeVarString(p, JSON.stringify({ blob: 'A'.repeat(70_000) }))
      const e = encoding.createEncoder()
      encoding.writeVarUint(e, 1)
      encoding.writeVarUint8Array(e, encoding.toUint8Array(p))
      return encoding.toUint8Array(e)
    }
    const attackers = [new WebSocket(`${s.url}/${room}`), new WebSocket(`${s.url}/${room}`)]
    sockets.push(...attackers)
    for (const w of attackers) w.on('error', () => {})
    await Promise.all(attackers.map((w) => new Promise((r) => w.once('open', r))))
    attackers.forEach((w, i) => w.send(frame(ATTACKER + i)))
    // Both states handled by the server: relayed to the honest client (which echoes them), or
    // dropped as too large. A write the client makes then is applied only if no echo got its
    // connection closed (same socket, in order).
    const handled = async () => {
      const states = honest.provider.awareness.getStates()
      if (states.has(ATTACKER) && states.has(ATTACKER + 1)) return true
      const dropped = (await s!.server.metrics.rejectedMessages.get()).values.find((v) => v.labels.reason === 'awareness-state-too-large')
      return (dropped?.value ?? 0) >= 2
    }
    for (const started = Date.now(); !(await handled()); ) {
      if (Date.now() - started > 5000) throw new Error('timed out waiting for the server to handle both states')
      await new Promise((r) => setTimeout(r, 5))
    }
    honest.doc.getMap('probe').set('after-echo', 1)
    await until(() => s!.server.rooms.get(room)!.doc.getMap('probe').get('after-echo') === 1, { message: 'a write after the echo' })
    expect(closes).toEqual([])
  })

  it('a write placed left of a compensated owned model is not re-asserted by the server over it', async () => {
    const room = 'finding-lost-write'
    const t = await setup(room)
    // 1. Delete the owned model's item: refused, and the compensation re-creates the model
    //    as a new (server) item after it.
    t.sendUpdate(update([], [{ client: t.modelId.client, ranges: [[t.modelId.clock, 1]] }]))
    await sleep(150)
    // 2. A value whose right origin is the original (deleted) model item: Yjs puts it left
    //    of it, deleted at once; transaction-view.ts sees a write that "lost" to a compensation and
    //    reassertLostWrites writes 'EVIL' over the restored model, as the server.
    t.sendUpdate(update([{ client: ATTACKER, clock: 0, structs: [item(content.any(['EVIL']), { rightOrigin: t.modelId })] }]))
    await sleep(300)
    for (const v of t.seen) expect(JSON.parse(v).m).toEqual({ $meta: { ownerID: OWNER, preventOwnershipTakeover: true }, x: 1 })
    expect(await lateView(room)).toEqual({ $meta: { ownerID: OWNER, preventOwnershipTakeover: true }, x: 1 })
  })
})

/**
 * Divergence: a late joiner (the server's state) must equal a client that received every
 * broadcast. Most cases need two of the attacker's updates applied in separate batches of
 * one tick (the first urgent, the second 40 ms later), so the tick is long and the batches
 * short; the list cases send theirs in ticks of their own (the order the server applies them).
 */
describe('fuzzer findings: divergence (issue 19)', () => {
  /** An attacker's socket; returns its sender of sync updates. */
  async function attacker(room: string) {
    const ws = new WebSocket(`${s!.url}/${room}`)
    sockets.push(ws)
    ws.on('error', () => {})
    await new Promise((r) => ws.once('open', r))
    return (u: Uint8Array) => {
      const e = encoding.createEncoder()
      encoding.writeVarUint(e, MESSAGE_SYNC)
      encoding.writeVarUint(e, 2)
      encoding.writeVarUint8Array(e, u)
      ws.send(encoding.toUint8Array(e))
    }
  }
  async function tickOfTwo(room: string) {
    s = await startServer({ plugins: defaultPlugins(), tickMs: 300, applyDelayMs: 5 })
    const observer = await join(room, OWNER + 2)
    const sendUpdate = await attacker(room)
    /** Waits for the ticks to go out, then checks that a late joiner holds what the observer holds. */
    const converged = async (read: (d: Y.Doc) => unknown) => {
      await sleep(700)
      const late = await join(room, OWNER + 3)
      expect(read(observer.doc)).toEqual(read(late.doc))
      expect(Y.equalSnapshots(Y.snapshot(observer.doc), Y.snapshot(late.doc))).toBe(true)
    }
    return { sendUpdate, converged, another: () => attacker(room) }
  }
  const at = (client: number, clock: number) => ({ client, clock })

  it('an update whose sections are not in client order keeps all of them in a merged tick', async () => {
    const t = await tickOfTwo('finding-section-order')
    // Client A's section first, then B's (B > A): Yjs writes them the other way round, and
    // Y.mergeUpdates, which the tick falls back to when A's two sections cannot be joined
    // (the length of 'é' in clock units is not known without decoding), dropped B's 'y'.
    t.sendUpdate(update([
      { client: ATTACKER, clock: 0, structs: [item(content.string('é'), { parent: { root: 'text' } })] },
      { client: ATTACKER + 1, clock: 0, structs: [item(content.string('y'), { parent: { root: 'list' } })] },
    ]))
    await sleep(40)
    t.sendUpdate(update([{ client: ATTACKER, clock: 1, structs: [item(content.string('x'), { origin: at(ATTACKER, 0) })] }]))
    await t.converged((d) => [d.getText('text').toJSON(), d.getText('list').toJSON()])
  })

  it('a section below the clocks the server has does not reach the clients in place of what it holds', async () => {
    const t = await tickOfTwo('finding-section-below')
    t.sendUpdate(update([{ client: ATTACKER, clock: 0, structs: [item(content.string('ab'), { parent: { root: 'text' } })] }]))
    await sleep(400)
    t.sendUpdate(update([{ client: ATTACKER, clock: 2, structs: [item(content.string('c'), { origin: at(ATTACKER, 1) })] }]))
    await sleep(40)
    // A:0..2 again, other content, and a deletion (so the update changes something). The
    // server skips the structs; sent as received, the merged tick gave the clients 'Z' at
    // A:2, which they did not have yet, instead of the 'c' the server holds.
    t.sendUpdate(update([{ client: ATTACKER, clock: 0, structs: [item(content.string('XYZ'), { parent: { root: 'text' } })] }], [{ client: ATTACKER, ranges: [[0, 1]] }]))
    await t.converged((d) => d.getText('text').toJSON())
  })

  it('an item between a collected item and a live one is refused', async () => {
    const t = await tickOfTwo('finding-collected-origin')
    // 'a' in the root list, and a list in map M holding 'c'.
    t.sendUpdate(update([{ client: ATTACKER, clock: 0, structs: [
      item(content.string('a'), { parent: { root: 'list' } }),
      item(content.type(0), { parent: { root: 'M' }, parentSub: 'p' }),
      item(content.string('c'), { parent: { id: at(ATTACKER, 1) } }),
    ] }]))
    await sleep(400)
    // The list is deleted: at the end of its batch the server collects 'c' (a GC struct).
    t.sendUpdate(update([], [{ client: ATTACKER, ranges: [[1, 1]] }]))
    await sleep(40)
    // Between 'a' and 'c': the server makes it a GC (a neighbour is one), the clients, which
    // get the deletion in the same tick and have not collected 'c' yet, put it after 'a'.
    t.sendUpdate(update([{ client: ATTACKER + 1, clock: 0, structs: [item(content.string('Z'), { origin: at(ATTACKER, 0), rightOrigin: at(ATTACKER, 2) })] }]))
    await t.converged((d) => d.getArray('list').toJSON())
  })

  it('a map item with a right origin is refused: which item is the value would depend on the order of integration', async () => {
    const t = await tickOfTwo('finding-map-right-origin')
    const B = ATTACKER + 100
    const C = ATTACKER + 200
    // M.k set three times (one chain of items), then four values placed by crafted origins,
    // each in its own message. The server integrates them in arrival order, a late joiner by
    // client id: the observer ended with k = 'x0', the late joiner without k.
    t.sendUpdate(update([{ client: B, clock: 0, structs: [
      item(content.any(['b0']), { parent: { root: 'M' }, parentSub: 'k' }),
      item(content.any(['b1']), { origin: at(B, 0) }),
      item(content.any(['b2']), { origin: at(B, 1) }),
    ] }]))
    await sleep(400)
    const crafted: Array<[ReturnType<typeof at>, ReturnType<typeof at> | null]> = [
      [at(B, 2), null],
      [at(B, 2), at(B, 0)],
      [at(B, 0), at(C, 0)],
      [at(B, 0), at(C + 2, 0)],
    ]
    crafted.forEach(([origin, rightOrigin], k) => t.sendUpdate(update([{ client: C + k, clock: 0, structs: [item(content.any([`x${k}`]), { origin, rightOrigin })] }])))
    await t.converged((d) => d.getMap('M').toJSON())
  })

  // Lists: Yjs orders concurrent items by their origins on the assumption that each was
  // written between neighbours; items that lie about it land wherever the items present when
  // they are integrated put them (origins.ts, between()).
  it('a map value longer than one clock is refused: split later, its first part stayed on the server only', async () => {
    const t = await tickOfTwo('finding-long-map-value')
    // 'EVIL' as the value of M.k, four clocks in one item (Yjs writes one per value).
    t.sendUpdate(update([{ client: ATTACKER, clock: 0, structs: [item(content.string('EVIL'), { parent: { root: 'M' }, parentSub: 'k' })] }]))
    await sleep(400)
    // A value after its second clock (from another connection: the first one is closed now).
    // Yjs splits 'EVIL' there: on the server 'EV' stayed, not deleted, behind the new value;
    // a late joiner, which gets 'EV' and 'IL' as two items, deleted it.
    const send = await t.another()
    send(update([{ client: ATTACKER + 1, clock: 0, structs: [item(content.any(['x']), { origin: at(ATTACKER, 1) })] }]))
    await t.converged((d) => d.getMap('M').toJSON())
  })

  it('a list item whose right origin is its left origin is refused', async () => {
    const t = await tickOfTwo('finding-list-crossed')
    const [B2, B3, C] = [ATTACKER + 300, ATTACKER + 301, ATTACKER + 400]
    // b0 b1 (one client), then b2 at the start (another): the list b2 b0 b1.
    t.sendUpdate(update([
      { client: B3, clock: 0, structs: [item(content.any(['b2']), { rightOrigin: at(B2, 0) })] },
      { client: B2, clock: 0, structs: [item(content.any(['b0']), { parent: { root: 'list' } }), item(content.any(['b1']), { origin: at(B2, 0) })] },
    ]))
    await sleep(400)
    // Each with one item for both origins, in ticks of their own: the server and the
    // observer integrated them in arrival order (b2 x0 b0 x1 b1), a late joiner by client id
    // (b2 x0 b0 b1 x1).
    t.sendUpdate(update([{ client: C, clock: 0, structs: [item(content.any(['x0']), { origin: at(B3, 0), rightOrigin: at(B3, 0) })] }]))
    await sleep(400)
    t.sendUpdate(update([{ client: C + 1, clock: 0, structs: [item(content.any(['x1']), { origin: at(B2, 1), rightOrigin: at(B2, 1) })] }]))
    await t.converged((d) => d.getArray('list').toJSON())
  })

  it('a list item with an item its author knew of between its origins is refused', async () => {
    const t = await tickOfTwo('finding-list-known-between')
    const [B1, B2, C] = [ATTACKER + 300, ATTACKER + 301, ATTACKER + 400]
    // b0, then b1 after it (another client), then b2 at the start (b0's client): b2 b0 b1.
    t.sendUpdate(update([
      { client: B2, clock: 0, structs: [item(content.any(['b1']), { origin: at(B1, 0) })] },
      { client: B1, clock: 0, structs: [item(content.any(['b0']), { parent: { root: 'list' } }), item(content.any(['b2']), { rightOrigin: at(B1, 0) })] },
    ]))
    await sleep(400)
    t.sendUpdate(update([{ client: C, clock: 0, structs: [item(content.any(['x0']), { origin: at(B1, 0) })] }]))
    await sleep(400)
    // "At the start, right before b1": but b1 was written after b0 (its origin), which lies
    // between. The server and the observer put x2 before b1, a late joiner (x2 first, by
    // client id) before x0.
    t.sendUpdate(update([{ client: C + 2, clock: 0, structs: [item(content.any(['x2']), { rightOrigin: at(B2, 0) })] }]))
    await t.converged((d) => d.getArray('list').toJSON())
  })
})

describe('fuzzer findings: awareness (issue 19)', () => {
  it('a state added, removed and re-added in one message is removed when its connection closes', async () => {
    const room = 'finding-awareness-readd'
    s = await startServer({ plugins: defaultPlugins(), tickMs: 50 })
    const observer = await join(room, OWNER)
    // y-protocols lists such an id as added, updated and removed at once; the server must
    // still count it as published by the connection, or it outlives the connection.
    const entries: Array<[number, string]> = [
      [2, JSON.stringify({ user: { name: 'EVIL' }, cursor: 97 })],
      [2, 'null'],
      [5, JSON.stringify({ user: { name: 'EVIL' }, cursor: 55 })],
    ]
    const p = encoding.createEncoder()
    encoding.writeVarUint(p, entries.length)
    for (const [clock, json] of entries) {
      encoding.writeVarUint(p, ATTACKER)
      encoding.writeVarUint(p, clock)
      encoding.writeVarString(p, json)
    }
    const e = encoding.createEncoder()
    encoding.writeVarUint(e, 1)
    encoding.writeVarUint8Array(e, encoding.toUint8Array(p))
    const ws = new WebSocket(`${s.url}/${room}`)
    sockets.push(ws)
    ws.on('error', () => {})
    await new Promise((r) => ws.once('open', r))
    ws.send(encoding.toUint8Array(e))
    await until(() => observer.provider.awareness.getStates().has(ATTACKER), { message: 'the state reaches the observer' })
    ws.close()
    await until(() => !observer.provider.awareness.getStates().has(ATTACKER), { message: 'the state is removed with its connection' })
    expect(s.server.rooms.get(room)!.awareness.getStates().has(ATTACKER)).toBe(false)
  })
})
