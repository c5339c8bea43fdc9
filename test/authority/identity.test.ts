import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { authorityPlugin } from '../../plugins/authority/index.js'
import { ExtKind } from '../../src/shared/protocol/extension.js'
import { MESSAGE_YROOM } from '../../src/shared/protocol/message-types.js'
import { applyStoredDocument, connectProvider, RawClient, startServer, until, type TestServer } from '../helpers.js'
import { createModel, model } from './trio.js'

let s: TestServer
afterEach(async () => {
  await s?.close()
})

async function server(): Promise<TestServer> {
  s = await startServer({ plugins: [authorityPlugin()], tickMs: 5 })
  return s
}

/** An update authored under `clientID`: sets models[key] = value. */
function updateAs(clientID: number, key: string, value: unknown): Uint8Array {
  const d = new Y.Doc()
  d.clientID = clientID
  d.getMap('models').set(key, value)
  return Y.encodeStateAsUpdate(d)
}

describe('identity binding (SPEC §3)', () => {
  it('an update under a client id bound to another live connection is refused whole', async () => {
    await server()
    const victim = await connectProvider(s.url, 'r')
    victim.doc.getMap('models').set('v', 1)
    const spoofer = await new RawClient(s.url, 'r').sync()
    spoofer.hello()
    await until(() => s.server.rooms.get('r')!.doc.getMap('models').get('v') === 1)
    // Structs under the victim's id plus one under the spoofer's own id: nothing may apply.
    const forged = Y.mergeUpdates([updateAs(victim.doc.clientID, 'forged', 666), updateAs(spoofer.doc.clientID, 'own', 1)])
    spoofer.sendUpdate(forged)
    await until(() => spoofer.ext.some((m) => m.kind === ExtKind.ERROR))
    const err = spoofer.ext.find((m) => m.kind === ExtKind.ERROR)!
    expect(err.body).toMatchObject({ code: 'identity-mismatch' })
    const srv = s.server.rooms.get('r')!.doc.getMap('models')
    expect(srv.has('forged')).toBe(false)
    expect(srv.has('own')).toBe(false)
    // The room carries on: the victim still writes.
    victim.doc.getMap('models').set('v', 2)
    await until(() => srv.get('v') === 2)
    victim.destroy()
    await spoofer.close()
  })

  it('updates under client id 0 or a server id are refused', async () => {
    await server()
    const c = await new RawClient(s.url, 'r0').sync()
    c.hello()
    c.sendUpdate(updateAs(0, 'zero', 1))
    await until(() => c.ext.some((m) => m.kind === ExtKind.ERROR))
    expect(c.ext.find((m) => m.kind === ExtKind.ERROR)!.body).toMatchObject({ code: 'reserved-client-id' })
    const room = s.server.rooms.get('r0')!
    const serverId = room.doc.clientID
    c.sendUpdate(updateAs(serverId, 'srv', 1))
    await until(() => c.ext.filter((m) => m.kind === ExtKind.ERROR).length === 2)
    expect(room.doc.getMap('models').toJSON()).toEqual({})
    await c.close()
  })

  it('an id the server wrote under while the room was not loaded stays the server\'s', async () => {
    await server()
    // A backend edit of an unloaded room: appended to storage under a fresh server id.
    await s.server.rooms.edit('old', (doc) => doc.getMap('models').set('byServer', 1))
    const stored = new Y.Doc()
    applyStoredDocument(stored, await s.server.storage.load('old'))
    const [serverId] = [...Y.decodeStateVector(Y.encodeStateVector(stored)).keys()]
    const c = await new RawClient(s.url, 'old').sync()
    c.hello()
    // Continues the server's clock under its id.
    const d = new Y.Doc()
    Y.applyUpdate(d, Y.encodeStateAsUpdate(stored))
    d.clientID = serverId
    const sv = Y.encodeStateVector(d)
    d.getMap('models').set('spoofed', 1)
    c.sendUpdate(Y.encodeStateAsUpdate(d, sv))
    await until(() => c.ext.some((m) => m.kind === ExtKind.ERROR))
    expect(c.ext.find((m) => m.kind === ExtKind.ERROR)!.body).toMatchObject({ code: 'reserved-client-id' })
    const room = s.server.rooms.get('old')!
    expect(room.doc.getMap('models').toJSON()).toEqual({ byServer: 1 })
    await c.close()
  })

  it("a loaded room's server id stays the server's after the room unloads and loads again", async () => {
    s = await startServer({ plugins: [authorityPlugin()], tickMs: 5, idleShutdownMs: 20 })
    const first = await new RawClient(s.url, 'again').sync()
    await s.server.rooms.edit('again', (doc) => doc.getMap('models').set('byServer', 1))
    const serverId = s.server.rooms.get('again')!.doc.clientID
    await first.close()
    await until(() => s.server.rooms.get('again') === undefined, { message: 'room unloaded' })
    const c = await new RawClient(s.url, 'again').sync()
    c.hello()
    expect(s.server.rooms.get('again')!.doc.clientID).not.toBe(serverId) // a fresh id for this load
    const d = new Y.Doc()
    Y.applyUpdate(d, Y.encodeStateAsUpdate(c.doc))
    d.clientID = serverId
    const sv = Y.encodeStateVector(d)
    d.getMap('models').set('spoofed', 1)
    c.sendUpdate(Y.encodeStateAsUpdate(d, sv))
    await until(() => c.ext.some((m) => m.kind === ExtKind.ERROR))
    expect(c.ext.find((m) => m.kind === ExtKind.ERROR)!.body).toMatchObject({ code: 'reserved-client-id' })
    expect(s.server.rooms.get('again')!.doc.getMap('models').toJSON()).toEqual({ byServer: 1 })
    await c.close()
  })

  it('a spoofer that persists is disconnected; the room carries on', async () => {
    await server()
    const victim = await connectProvider(s.url, 'r2')
    victim.doc.getMap('models').set('v', 1)
    const spoofer = await new RawClient(s.url, 'r2').sync()
    await until(() => s.server.rooms.get('r2')!.doc.getMap('models').get('v') === 1)
    for (let i = 0; i < 10; i++) spoofer.sendUpdate(updateAs(victim.doc.clientID, `f${i}`, i))
    await spoofer.closed
    expect(spoofer.closeCode).toBe(1008)
    victim.doc.getMap('models').set('v', 2)
    await until(() => s.server.rooms.get('r2')!.doc.getMap('models').get('v') === 2)
    victim.destroy()
  })

  it('a reconnecting anonymous stock client keeps its id and its models', async () => {
    await server()
    const a = await connectProvider(s.url, 'r3')
    createModel(a.doc, 'mine', { x: 1 })
    await until(() => s.server.rooms.get('r3')!.doc.getMap('models').has('mine'))
    a.provider.disconnect()
    model(a.doc, 'mine').set('x', 2)
    a.provider.connect()
    await until(() => (s.server.rooms.get('r3')!.doc.getMap('models').get('mine') as Y.Map<unknown>)?.get('x') === 2)
    a.destroy()
  })

  it('an authenticated principal may rebind its id; another principal may not', async () => {
    s = await startServer({
      plugins: [authorityPlugin()],
      tickMs: 5,
      authenticate: ({ token }) => ({ id: token ?? 'nobody', anonymous: false }),
    })
    const doc = new Y.Doc()
    const alice = await connectProvider(s.url, 'r4', { doc, params: { token: 'alice' } })
    createModel(doc, 'm', { x: 1 })
    await until(() => s.server.rooms.get('r4')!.doc.getMap('models').has('m'))
    alice.provider.destroy()
    await until(() => s.server.connections.size === 0)
    // Mallory reuses alice's client id.
    const mallory = await new RawClient(s.url, 'r4', { query: '?token=mallory' }).sync()
    mallory.hello(doc.clientID)
    await until(() => mallory.ext.some((m) => m.kind === ExtKind.ERROR))
    expect(mallory.ext.find((m) => m.kind === ExtKind.ERROR)!.body).toMatchObject({ code: 'identity-mismatch' })
    await mallory.close()
    // Alice comes back with the same doc and id.
    const again = await connectProvider(s.url, 'r4', { doc, params: { token: 'alice' } })
    model(doc, 'm').set('x', 2)
    await until(() => (s.server.rooms.get('r4')!.doc.getMap('models').get('m') as Y.Map<unknown>).get('x') === 2)
    again.destroy()
  })
})

describe('extension protocol (SPEC §7)', () => {
  it('hello gets a welcome; rejections come with path and reason', async () => {
    await server()
    const owner = await connectProvider(s.url, 'x')
    createModel(owner.doc, 'a', { x: 1 })
    const c = await new RawClient(s.url, 'x').sync()
    await until(() => model(c.doc, 'a')?.get('x') === 1)
    const before = Date.now()
    c.hello()
    await until(() => c.ext.some((m) => m.kind === ExtKind.WELCOME))
    const welcome = c.ext.find((m) => m.kind === ExtKind.WELCOME)!
    expect(welcome.body).toMatchObject({ version: 1, clientID: c.doc.clientID, room: 'x' })
    expect((welcome.body as { serverTime: number }).serverTime).toBeGreaterThanOrEqual(before - 1000)
    model(c.doc, 'a').set('x', 2)
    await until(() => c.ext.some((m) => m.kind === ExtKind.REJECTED))
    const rejected = c.ext.find((m) => m.kind === ExtKind.REJECTED)!
    expect(rejected.body).toEqual({
      changes: [{ path: ['models', 'a', 'x'], reason: 'owned-by-another', message: expect.any(String) }],
    })
    await until(() => model(c.doc, 'a').get('x') === 1)
    owner.destroy()
    await c.close()
  })

  it('stock clients never receive extension messages, even when rejected', async () => {
    await server()
    const owner = await connectProvider(s.url, 'y')
    createModel(owner.doc, 'a', { x: 1 })
    const raw = await new RawClient(s.url, 'y').sync()
    await until(() => model(raw.doc, 'a')?.get('x') === 1)
    model(raw.doc, 'a').set('x', 2)
    await until(() => model(raw.doc, 'a').get('x') === 1)
    expect(raw.framesOfType(MESSAGE_YROOM)).toHaveLength(0)
    owner.destroy()
    await raw.close()
  })

  it('updates that depend on missing structs are never attributed to another connection', async () => {
    await server()
    // The writer's second update depends on its first, which the server never gets.
    const w = new Y.Doc()
    const updates: Uint8Array[] = []
    w.on('update', (u: Uint8Array) => updates.push(u))
    const owner = createModel(w, 'a', { x: 1 })
    owner.set('x', 2)
    const writer = await new RawClient(s.url, 'p').sync()
    writer.sendUpdate(updates[1])
    // The server asks the writer to resync (sync step 1) and applies nothing of it.
    await until(() => writer.frames.length >= 3)
    const room = s.server.rooms.get('p')!
    expect(room.doc.store.pendingStructs).toBeNull()
    expect(room.doc.getMap('models').has('a')).toBe(false)
    // When the missing first update arrives, the dropped second one is not integrated with
    // it (it would be attributed to whatever update filled the gap).
    writer.sendUpdate(updates[0])
    await until(() => room.doc.getMap('models').has('a'))
    expect((room.doc.getMap('models').get('a') as Y.Map<unknown>).get('x')).toBe(1)
    // Sent again, now in order, it applies.
    writer.sendUpdate(updates[1])
    await until(() => (room.doc.getMap('models').get('a') as Y.Map<unknown>).get('x') === 2)
    await writer.close()
  })
})
