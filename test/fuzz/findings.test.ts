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
    await sleep(1500)
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
