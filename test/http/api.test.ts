/**
 * The HTTP API (issue 26), end to end: a real server on a loopback port, real HTTP (fetch),
 * stock y-websocket clients watching what the API does.
 */
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { actionsPlugin, defaultPlugins, type Migration } from '../../server/index.js'
import { defineActions, ActionRefused } from '../../src/index.js'
import { CloseCode } from '../../src/shared/protocol/close-codes.js'
import { connectProvider, RawClient, startServer, until, type TestServer } from '../helpers.js'

const KEY = 'test-api-key-0123456789abcdef'

const counter = defineActions(
  {
    increment: (d: { value: number }, by: number = 1) => void (d.value += by),
    withdraw: (d: { value: number }, n: number) => {
      if (d.value < n) throw new ActionRefused('insufficient', `${d.value} < ${n}`)
      d.value -= n
    },
  },
  { name: 'api-counter', actionOnly: true },
)
const migrations: Migration[] = [
  {
    name: 'counter',
    up(doc: Y.Doc) {
      const model = new Y.Map<unknown>()
      const meta = new Y.Map<unknown>()
      meta.set('ownerID', 0)
      meta.set('actions', counter.name)
      model.set('$meta', meta)
      model.set('value', 0)
      doc.getMap('models').set('counter', model)
    },
  },
]

const cleanup: Array<() => unknown> = []
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c()
})

async function serve(options: Parameters<typeof startServer>[0] = {}): Promise<TestServer & { api: (path: string, init?: RequestInit & { key?: string | null }) => Promise<Response> }> {
  const s = await startServer({ apiKey: KEY, plugins: [...defaultPlugins(), actionsPlugin({ sets: [counter], migrations })], ...options })
  cleanup.push(() => s.close())
  const base = `http://127.0.0.1:${s.port}`
  const api = (path: string, { key = KEY, headers, ...init }: RequestInit & { key?: string | null } = {}) =>
    fetch(`${base}${path}`, { ...init, headers: { ...(key === null ? {} : { authorization: `Bearer ${key}` }), ...(headers as Record<string, string>) } })
  return { ...s, api }
}

const json = (body: unknown): RequestInit => ({ method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } })
/** A request body of bytes (fetch's types want an ArrayBuffer-backed view). */
const bin = (u: Uint8Array) => new Uint8Array(u)
const errorOf = async (res: Response) => ((await res.json()) as { error: { code: string; message: string } }).error

/** A room stored but not loaded: written through rooms.edit, then unloaded. */
async function storedRoom(s: TestServer, name: string, fill: (doc: Y.Doc) => void): Promise<void> {
  await s.server.rooms.edit(name, fill)
  await s.server.rooms.unload(name)
  expect(s.server.rooms.get(name)).toBeUndefined()
}

describe('HTTP API: keys, routes, errors', () => {
  it('is off without a key: 404 with a JSON error saying so', async () => {
    const s = await serve({ apiKey: undefined })
    const res = await s.api('/api/v1/rooms')
    expect(res.status).toBe(404)
    expect(await errorOf(res)).toMatchObject({ code: 'api-disabled' })
  })

  it('refuses a missing or wrong key with 401', async () => {
    const s = await serve()
    for (const key of [null, 'wrong', `${KEY}x`, '']) {
      const res = await s.api('/api/v1/rooms', { key })
      expect(res.status, String(key)).toBe(401)
      expect(res.headers.get('www-authenticate')).toBe('Bearer')
      expect(await errorOf(res)).toMatchObject({ code: 'unauthorized' })
    }
    const basic = await fetch(`http://127.0.0.1:${s.port}/api/v1/rooms`, { headers: { authorization: `Basic ${KEY}` } })
    expect(basic.status).toBe(401)
  })

  it('answers unknown routes 404 and wrong methods 405 with Allow', async () => {
    const s = await serve()
    expect((await s.api('/api/v1/nothing')).status).toBe(404)
    expect((await s.api('/api/v2/rooms')).status).toBe(404)
    const res = await s.api('/api/v1/rooms', { method: 'POST' })
    expect(res.status).toBe(405)
    expect(res.headers.get('allow')).toBe('GET')
    expect(await errorOf(res)).toMatchObject({ code: 'method-not-allowed' })
    const room = await s.api('/api/v1/rooms/x', { method: 'PATCH' })
    expect(room.status).toBe(405)
    expect(room.headers.get('allow')).toBe('GET, DELETE')
  })

  it('refuses malformed JSON bodies with 400 and bodies over the limit with 413', async () => {
    const s = await serve({ maxMessageBytes: 1024 })
    const bad = await s.api('/api/v1/principals/p/kick', { method: 'POST', body: '{not json' })
    expect(bad.status).toBe(400)
    expect(await errorOf(bad)).toMatchObject({ code: 'bad-request' })
    const big = await s.api('/api/v1/rooms/r/update', { method: 'POST', body: new Uint8Array(4096) })
    expect(big.status).toBe(413)
    expect(await errorOf(big)).toMatchObject({ code: 'payload-too-large' })
  })
})

describe('HTTP API: rooms', () => {
  it('lists loaded and stored rooms with client counts', async () => {
    const s = await serve()
    await storedRoom(s, 'only-stored', (doc) => doc.getMap('m').set('a', 1))
    const a = await connectProvider(s.url, 'live')
    const b = await connectProvider(s.url, 'live')
    cleanup.push(() => a.destroy(), () => b.destroy())
    a.doc.getMap('m').set('x', 1)
    await until(() => s.server.rooms.get('live')?.connections.size === 2)
    const res = await s.api('/api/v1/rooms')
    expect(res.status).toBe(200)
    const { rooms } = (await res.json()) as { rooms: Array<{ name: string; loaded: boolean; stored: boolean; clients: number }> }
    expect(rooms.find((r) => r.name === 'live')).toMatchObject({ loaded: true, clients: 2 })
    expect(rooms.find((r) => r.name === 'only-stored')).toEqual({ name: 'only-stored', loaded: false, stored: true, clients: 0 })
  })

  it('reads a room as JSON while loaded and while only stored, $meta included', async () => {
    const s = await serve()
    const fill = (doc: Y.Doc) => {
      const model = new Y.Map<unknown>()
      const meta = new Y.Map<unknown>()
      meta.set('ownerID', 7)
      model.set('$meta', meta)
      model.set('title', 'hello')
      const list = new Y.Array<unknown>()
      list.push([1, 'two', { three: 3 }])
      model.set('list', list)
      const text = new Y.Text('some text')
      model.set('text', text)
      doc.getMap('models').set('m1', model)
      doc.getArray('log').push(['a', 'b'])
      doc.getText('notes').insert(0, 'root text')
    }
    await storedRoom(s, 'stored/room', fill)
    const expected = {
      models: { m1: { $meta: { ownerID: 7 }, title: 'hello', list: [1, 'two', { three: 3 }], text: 'some text' } },
      log: ['a', 'b'],
      notes: 'root text',
    }
    const stored = await s.api(`/api/v1/rooms/${encodeURIComponent('stored/room')}`)
    expect(stored.status).toBe(200)
    expect(await stored.json()).toMatchObject({ name: 'stored/room', loaded: false, clients: 0, doc: expected })

    const c = await connectProvider(s.url, 'stored/room')
    cleanup.push(() => c.destroy())
    const loaded = await s.api(`/api/v1/rooms/${encodeURIComponent('stored/room')}`)
    const body = (await loaded.json()) as { loaded: boolean; clients: number; doc: Record<string, unknown> }
    expect(body).toMatchObject({ loaded: true, clients: 1 })
    expect(body.doc).toMatchObject(expected)
    expect((await s.api('/api/v1/rooms/missing')).status).toBe(404)
  })

  it('serves the room as a Yjs update, and a diff against a state vector that completes a client doc', async () => {
    const s = await serve()
    const writer = await connectProvider(s.url, 'bin')
    cleanup.push(() => writer.destroy())
    writer.doc.getMap('m').set('first', 1)
    await until(() => s.server.rooms.get('bin')?.doc.getMap('m').get('first') === 1)

    const full = await s.api('/api/v1/rooms/bin/update')
    expect(full.status).toBe(200)
    expect(full.headers.get('content-type')).toBe('application/octet-stream')
    const client = new Y.Doc()
    Y.applyUpdate(client, new Uint8Array(await full.arrayBuffer()))
    expect(client.getMap('m').get('first')).toBe(1)
    const sv = full.headers.get('x-yroom-state-vector')
    expect(sv).toBeTruthy()

    writer.doc.getMap('m').set('second', 2)
    await until(() => s.server.rooms.get('bin')?.doc.getMap('m').get('second') === 2)
    const svParam = Buffer.from(Y.encodeStateVector(client)).toString('base64url')
    const diff = await s.api(`/api/v1/rooms/bin/update?sv=${svParam}`)
    const diffBytes = new Uint8Array(await diff.arrayBuffer())
    expect(diffBytes.byteLength).toBeLessThan(Y.encodeStateAsUpdate(writer.doc).byteLength)
    Y.applyUpdate(client, diffBytes)
    expect(client.getMap('m').toJSON()).toEqual(writer.doc.getMap('m').toJSON())
    expect(Y.encodeStateVector(client)).toEqual(Y.encodeStateVector(s.server.rooms.get('bin')!.doc))

    // Plain base64 works too (URL-encoded, or with a raw `+` read as a space).
    const plain = Buffer.from(Y.encodeStateVector(client)).toString('base64')
    expect((await s.api(`/api/v1/rooms/bin/update?sv=${encodeURIComponent(plain)}`)).status).toBe(200)

    const bad = await s.api('/api/v1/rooms/bin/update?sv=%%%')
    expect(bad.status).toBe(400)
    expect(await errorOf(bad)).toMatchObject({ code: 'bad-state-vector' })
    const garbage = await s.api(`/api/v1/rooms/bin/update?sv=${Buffer.from([0xff, 0xff, 0xff]).toString('base64url')}`)
    expect(garbage.status).toBe(400)
  })

  it('applies a Yjs update as the server: it reaches a connected stock client', async () => {
    const s = await serve()
    const c = await connectProvider(s.url, 'apply')
    cleanup.push(() => c.destroy())
    const source = new Y.Doc()
    source.getMap('shared').set('from', 'http')
    const res = await s.api('/api/v1/rooms/apply/update', { method: 'POST', body: bin(Y.encodeStateAsUpdate(source)), headers: { 'content-type': 'application/octet-stream' } })
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ applied: true })
    await until(() => c.doc.getMap('shared').get('from') === 'http', { message: 'the update at the client' })
    // Stored too: the room read back after an unload has it.
    c.destroy()
    await until(() => s.server.rooms.get('apply')?.connections.size === 0)
    await s.server.rooms.unload('apply')
    const read = (await (await s.api('/api/v1/rooms/apply')).json()) as { doc: { shared: Record<string, unknown> } }
    expect(read.doc.shared).toEqual({ from: 'http' })
  })

  it('applies an update to a room that is not loaded, and creates a room that does not exist', async () => {
    const s = await serve()
    const source = new Y.Doc()
    source.getArray('items').push(['x'])
    const res = await s.api('/api/v1/rooms/new-room/update', { method: 'POST', body: bin(Y.encodeStateAsUpdate(source)) })
    expect(res.status).toBe(200)
    expect(s.server.rooms.get('new-room')).toBeUndefined()
    expect(await s.server.storage.list()).toContain('new-room')
    const read = (await (await s.api('/api/v1/rooms/new-room')).json()) as { doc: Record<string, unknown> }
    expect(read.doc.items).toEqual(['x'])
  })

  it('refuses a malformed update with 400 and changes nothing', async () => {
    const s = await serve()
    const c = await connectProvider(s.url, 'keep')
    cleanup.push(() => c.destroy())
    c.doc.getMap('m').set('k', 'v')
    await until(() => s.server.rooms.get('keep')?.doc.getMap('m').get('k') === 'v')
    const before = Y.encodeStateVector(s.server.rooms.get('keep')!.doc)
    const good = new Y.Doc()
    good.getMap('m').set('evil', true)
    const valid = Y.encodeStateAsUpdate(good)
    for (const body of [new Uint8Array([1, 2, 3, 4, 5]), valid.slice(0, valid.byteLength - 3), new Uint8Array(0)]) {
      const res = await s.api('/api/v1/rooms/keep/update', { method: 'POST', body })
      expect(res.status).toBe(400)
      expect(await errorOf(res)).toMatchObject({ code: 'malformed-update' })
    }
    // Builds on structs the room does not have: refused, not left pending.
    const other = new Y.Doc()
    other.getMap('m').set('a', 1)
    const sv = Y.encodeStateVector(other)
    other.getMap('m').set('b', 2)
    const gap = await s.api('/api/v1/rooms/keep/update', { method: 'POST', body: bin(Y.encodeStateAsUpdate(other, sv)) })
    expect(gap.status).toBe(409)
    expect(await errorOf(gap)).toMatchObject({ code: 'missing-dependencies' })
    expect(Y.encodeStateVector(s.server.rooms.get('keep')!.doc)).toEqual(before)
    expect(s.server.rooms.get('keep')!.doc.getMap('m').toJSON()).toEqual({ k: 'v' })
  })

  it('refuses an update whose items or deletions refer to content of another client the room lacks: 409, nothing pending', async () => {
    const s = await serve()
    const c = await connectProvider(s.url, 'refs')
    cleanup.push(() => c.destroy())
    c.doc.getMap('m').set('k', 'v')
    const room = () => s.server.rooms.get('refs')!.doc
    await until(() => s.server.rooms.get('refs')?.doc.getMap('m').get('k') === 'v')
    // Client 9 writes "abc"; client 5, having it, appends "d" after it (origin 9:2). The
    // room gets only client 5's part: it starts at 5's clock 0, but builds on 9's content.
    const a = new Y.Doc()
    a.clientID = 9
    a.getText('t').insert(0, 'abc')
    const b = new Y.Doc()
    b.clientID = 5
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a))
    b.getText('t').insert(3, 'd')
    const onlyB = Y.encodeStateAsUpdate(b, Y.encodeStateVector(a))
    // Deletes client 9's "b": an item the room does not have.
    b.getText('t').delete(1, 1)
    const deletion = Y.encodeStateAsUpdate(b, Y.encodeStateVector(b)) // deletions only
    const onlyDelete = Y.mergeUpdates([deletion, Y.encodeStateAsUpdate(b, Y.encodeStateVector(b))])
    for (const body of [onlyB, onlyDelete]) {
      const res = await s.api('/api/v1/rooms/refs/update', { method: 'POST', body: bin(body) })
      expect(res.status).toBe(409)
      expect(await errorOf(res)).toMatchObject({ code: 'missing-dependencies' })
      expect(room().store.pendingStructs).toBeNull()
      expect(room().store.pendingDs).toBeNull()
    }
    // Client 9's content arriving later does not bring client 5's "d" with it.
    const ok = await s.api('/api/v1/rooms/refs/update', { method: 'POST', body: bin(Y.encodeStateAsUpdate(a)) })
    expect(ok.status).toBe(200)
    expect(room().getText('t').toString()).toBe('abc')
    // Not loaded: refused the same way, the stored room unchanged.
    c.destroy()
    await until(() => s.server.rooms.get('refs')?.connections.size === 0)
    await s.server.rooms.unload('refs')
    const cold = await s.api('/api/v1/rooms/abc-cold/update', { method: 'POST', body: bin(onlyB) })
    expect(cold.status).toBe(409)
  })

  it('refuses a crafted update whose origins are not neighbours in one list (SPEC §12), as from a client: 400, nothing applied', async () => {
    const s = await serve()
    // The room: client 9's item 9:0 is the value of key x in map m.
    const r = new Y.Doc()
    r.clientID = 9
    r.getMap('m').set('x', 1)
    expect((await s.api('/api/v1/rooms/crafted/update', { method: 'POST', body: bin(Y.encodeStateAsUpdate(r)) })).status).toBe(200)
    // Elsewhere 9:0 is the first element of an array; client 5 inserts before it: its item
    // has right origin 9:0, which in the room lies in a map.
    const a = new Y.Doc()
    a.clientID = 9
    a.getArray('arr').insert(0, [1])
    const b = new Y.Doc()
    b.clientID = 5
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a))
    b.getArray('arr').insert(0, [0])
    const crafted = Y.encodeStateAsUpdate(b, Y.encodeStateVector(a))
    const res = await s.api('/api/v1/rooms/crafted/update', { method: 'POST', body: bin(crafted) })
    expect(res.status).toBe(400)
    expect(await errorOf(res)).toMatchObject({ code: 'malformed-update' })
    const doc = await (await s.api('/api/v1/rooms/crafted')).json()
    expect(doc.doc).toEqual({ m: { x: 1 } })
  })

  it('refuses an update that would take the document past maxDocumentBytes with 413, loaded or not', async () => {
    const s = await serve({ maxDocumentBytes: 4000, maxMessageBytes: 64 * 1024 })
    const big = new Y.Doc()
    big.getText('t').insert(0, 'x'.repeat(5000))
    await s.server.rooms.edit('small', (doc) => doc.getMap('m').set('a', 1))
    for (const loaded of [false, true]) {
      const c = loaded ? await connectProvider(s.url, 'small') : null
      if (c) cleanup.push(() => c.destroy())
      const res = await s.api('/api/v1/rooms/small/update', { method: 'POST', body: bin(Y.encodeStateAsUpdate(big)) })
      expect(res.status, `loaded: ${loaded}`).toBe(413)
      expect(await errorOf(res)).toMatchObject({ code: 'document-too-large' })
    }
    const read = (await (await s.api('/api/v1/rooms/small')).json()) as { doc: Record<string, unknown> }
    expect(read.doc.t).toBeUndefined()
  })

  it('runs an action on a room, loaded or not, and returns its result; a refusal is 409', async () => {
    const s = await serve()
    const c = await connectProvider(s.url, 'act')
    cleanup.push(() => c.destroy())
    await until(() => c.doc.getMap('models').get('counter') !== undefined)
    const res = await s.api('/api/v1/rooms/act/actions', json({ path: ['models', 'counter'], action: 'increment', args: [5] }))
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ data: { value: 5 }, duplicate: false })
    await until(() => (c.doc.getMap('models').get('counter') as Y.Map<unknown>).get('value') === 5, { message: 'the effect at the client' })

    const refused = await s.api('/api/v1/rooms/act/actions', json({ path: ['models', 'counter'], action: 'withdraw', args: [50] }))
    expect(refused.status).toBe(409)
    expect(await errorOf(refused)).toMatchObject({ code: 'insufficient' })
    expect((await s.api('/api/v1/rooms/act/actions', json({ action: 'increment' }))).status).toBe(400)

    // Not loaded: the room loads for it.
    c.destroy()
    await until(() => s.server.rooms.get('act')?.connections.size === 0)
    await s.server.rooms.unload('act')
    const cold = await s.api('/api/v1/rooms/act/actions', json({ path: ['models', 'counter'], action: 'increment' }))
    expect(await cold.json()).toEqual({ data: { value: 6 }, duplicate: false })
  })

  it('refuses action args nested past 100 levels (as over WebSocket) with 400, and the room is unchanged', async () => {
    const s = await serve({ maxMessageBytes: 1024 * 1024 })
    await s.server.rooms.edit('deep', (doc) => doc.getMap('m').set('a', 1))
    // Parsed fine by JSON.parse; overflowed the stack in the action's checks (a 500).
    const deep = '['.repeat(50_000) + ']'.repeat(50_000)
    const body = `{"path":["models","counter"],"action":"increment","args":[${deep}]}`
    const res = await s.api('/api/v1/rooms/deep/actions', { method: 'POST', body, headers: { 'content-type': 'application/json' } })
    expect(res.status).toBe(400)
    expect(await errorOf(res)).toMatchObject({ code: 'bad-request' })
    const after = await s.api('/api/v1/rooms/deep/actions', json({ path: ['models', 'counter'], action: 'increment', args: [] }))
    expect(await after.json()).toEqual({ data: { value: 1 }, duplicate: false })
  })

  it('answers 404 for actions when no actions plugin runs', async () => {
    const s = await serve({ plugins: defaultPlugins() })
    await s.server.rooms.edit('r', (doc) => doc.getMap('m').set('a', 1))
    const res = await s.api('/api/v1/rooms/r/actions', json({ path: ['m'], action: 'x', args: [] }))
    expect(res.status).toBe(404)
    expect(await errorOf(res)).toMatchObject({ code: 'no-actions' })
  })

  it('deletes a room: its connections close with 4404, its storage is gone', async () => {
    const s = await serve()
    const raw = new RawClient(s.url, 'doomed')
    cleanup.push(() => raw.ws.terminate())
    await raw.open()
    const c = await connectProvider(s.url, 'doomed')
    cleanup.push(() => c.destroy())
    c.doc.getMap('m').set('x', 1)
    await until(() => s.server.rooms.get('doomed')?.doc.getMap('m').get('x') === 1)
    await s.server.rooms.get('doomed')!.flush()
    const closes: number[] = []
    c.provider.on('connection-close', (e: CloseEvent | null) => e && closes.push(e.code))
    c.provider.shouldConnect = false // a stock client would reconnect and write its state back

    const res = await s.api('/api/v1/rooms/doomed', { method: 'DELETE' })
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ deleted: 'doomed', closed: 2 })
    await raw.closed
    expect(raw.closeCode).toBe(CloseCode.ROOM_DELETED)
    expect(raw.closeReason).toBe('room deleted')
    await until(() => closes.length > 0)
    expect(closes[0]).toBe(CloseCode.ROOM_DELETED)
    expect(s.server.rooms.get('doomed')).toBeUndefined()
    expect(await s.server.storage.list()).not.toContain('doomed')
    expect((await s.api('/api/v1/rooms/doomed')).status).toBe(404)
    expect((await s.api('/api/v1/rooms/doomed', { method: 'DELETE' })).status).toBe(404)
  })

  it('rejects invalid room names with 400', async () => {
    const s = await serve()
    const res = await s.api(`/api/v1/rooms/${encodeURIComponent('bad\u0001name')}`)
    expect(res.status).toBe(400)
    expect(await errorOf(res)).toMatchObject({ code: 'invalid-room' })
  })
})

describe('HTTP API: principals', () => {
  it('kicks a principal (4410) and sets read-only', async () => {
    let n = 0
    const s = await serve({ authenticate: ({ token }) => ({ id: token ?? `anon-${++n}`, anonymous: token === null }) })
    const alice = await connectProvider(s.url, 'room', { params: { token: 'alice' } })
    const bob = new RawClient(s.url, 'room', { query: '?token=bob' })
    cleanup.push(() => alice.destroy(), () => bob.ws.terminate())
    await bob.open()
    await until(() => s.server.rooms.get('room')?.connections.size === 2)

    const ro = await s.api('/api/v1/principals/alice/read-only', { method: 'PUT', body: JSON.stringify({ readOnly: true }) })
    expect(ro.status).toBe(200)
    expect(await ro.json()).toEqual({ changed: 1 })
    expect([...s.server.connections].find((c) => c.principal.id === 'alice')?.readOnly).toBe(true)
    expect((await s.api('/api/v1/principals/alice/read-only', { method: 'PUT', body: JSON.stringify({ readOnly: 'yes' }) })).status).toBe(400)

    const kick = await s.api('/api/v1/principals/bob/kick', json({ reason: 'bye' }))
    expect(await kick.json()).toEqual({ closed: 1 })
    await bob.closed
    expect(bob.closeCode).toBe(CloseCode.KICKED)
    expect(bob.closeReason).toBe('bye')
    expect(await (await s.api('/api/v1/principals/nobody/kick', { method: 'POST' })).json()).toEqual({ closed: 0 })
  })
})
