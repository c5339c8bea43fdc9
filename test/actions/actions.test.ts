import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import WebSocket from 'ws'
import { defaultPlugins } from '../../plugins/index.js'
import { actionsPlugin, appliedMigrations } from '../../plugins/actions/index.js'
import { ActionRefused, defineActions } from '../../src/shared/actions/define.js'
import { connect, type Room } from '../../src/sdk/index.js'
import type { WebSocketConstructor } from '../../src/sdk/transport.js'
import { counterActions, walletActions } from '../../examples/actions/counter.js'
import { connectProvider, startServer, until, type TestServer } from '../helpers.js'
import { backendCases, type Backend } from '../backends.js'

const impure = defineActions({ roll: (d: { v: number }) => ({ v: d.v + Math.random() }) }, { name: 'dice' })
/** A Standard Schema validator (what zod & co. expose), sync or async. */
const nonNegative = (async: boolean) => ({
  '~standard': {
    version: 1 as const,
    vendor: 'test',
    validate: (v: unknown) => {
      const r = (v as { balance: number }).balance >= 0 ? { value: v } : { issues: [{ message: 'balance must be >= 0' }] }
      return async ? Promise.resolve(r) : r
    },
  },
})
const spend = { spend: (d: { balance: number }, n: number) => void (d.balance -= n) }
const checked = defineActions(spend, { name: 'checked', schema: nonNegative(false) })
const checkedAsync = defineActions(spend, { name: 'checked-async', schema: nonNegative(true) })
const sets = [counterActions, walletActions, impure, checked, checkedAsync]

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

/** Fresh storage of `backend` (its storage / --data value), removed after the test. */
async function storage(backend: Backend): Promise<string> {
  const d = await backend.data()
  cleanups.push(d.cleanup) // cleanups run in reverse: after the servers on it stopped
  return d.data
}

async function server(opts: Parameters<typeof startServer>[0] = {}, migrations: Parameters<typeof actionsPlugin>[0]['migrations'] = []) {
  const actions = actionsPlugin({ sets, strict: true, migrations })
  const s = await startServer({ plugins: [...defaultPlugins(), actions], tickMs: 5, ...opts })
  cleanups.push(() => s.close())
  return { s, actions }
}

function join_(s: TestServer, room: string): Room {
  const r = connect({ url: s.url, room, actions: sets, WebSocket: WebSocket as unknown as WebSocketConstructor, reconnect: { minDelayMs: 20, maxDelayMs: 100 } })
  cleanups.push(() => r.disconnect())
  return r
}

/** Creates a server-owned action model at models[key] (ownerID 0: clients may only use actions). */
async function serverModel(s: TestServer, room: string, key: string, set: string, data: Record<string, number>) {
  await s.server.rooms.edit(room, (doc) => {
    const m = new Y.Map<unknown>()
    const meta = new Y.Map<unknown>()
    meta.set('ownerID', 0)
    meta.set('actions', set)
    m.set('$meta', meta)
    for (const [k, v] of Object.entries(data)) m.set(k, v)
    doc.getMap('models').set(key, m)
  })
}

const modelIn = (r: Room, key: string) => r.doc.getMap('models').get(key) as Y.Map<unknown>
const synced = (r: Room) => new Promise<void>((resolve) => r.once('synced', () => resolve()))

describe('actions (SPEC §8)', () => {
  it('5 clients × 100 concurrent increments end at exactly +500; direct CRDT writes lose increments', async () => {
    const { s } = await server()
    await serverModel(s, 'c', 'counter', 'counter', { value: 10 })
    const rooms = Array.from({ length: 5 }, () => join_(s, 'c'))
    await Promise.all(rooms.map(synced))
    await Promise.all(rooms.flatMap((r) => Array.from({ length: 100 }, () => r.patch(modelIn(r, 'counter'), 'increment', 1))))
    const srv = () => (s.server.rooms.get('c')!.doc.getMap('models').get('counter') as Y.Map<unknown>).get('value')
    expect(srv()).toBe(510)
    for (const r of rooms) await until(() => modelIn(r, 'counter').get('value') === 510)

    // The contrast: the same load as read-modify-write on a plain map.
    const plain = await Promise.all(Array.from({ length: 5 }, () => connectProvider(s.url, 'c-plain')))
    cleanups.push(() => plain.forEach((p) => p.destroy()))
    plain[0].doc.getMap('plain').set('value', 10)
    await until(() => plain.every((p) => p.doc.getMap('plain').get('value') === 10))
    for (const p of plain) {
      for (let i = 0; i < 100; i++) p.doc.getMap('plain').set('value', (p.doc.getMap('plain').get('value') as number) + 1)
    }
    const srvPlain = () => s.server.rooms.get('c-plain')!.doc.getMap('plain').get('value')
    await until(() => plain.every((p) => p.doc.getMap('plain').get('value') === srvPlain()))
    expect(srvPlain()).toBeLessThan(510)
  })

  it('a refused action rolls the caller back and fires events; others never see the refused state', async () => {
    const { s } = await server()
    await serverModel(s, 'w', 'wallet', 'wallet', { balance: 10 })
    const caller = join_(s, 'w')
    const other = join_(s, 'w')
    await Promise.all([synced(caller), synced(other)])
    const seenByCaller: number[] = []
    const seenByOther: number[] = []
    caller.updated(modelIn(caller, 'wallet'), (snap) => seenByCaller.push(snap.balance as number))
    other.updated(modelIn(other, 'wallet'), (snap) => seenByOther.push(snap.balance as number))
    // The client's own check passes (it believes 100 were deposited), the server's does not.
    const deposit = caller.patch(modelIn(caller, 'wallet'), 'deposit', 100)
    const withdraw = caller.patch(modelIn(caller, 'wallet'), 'withdraw', 50)
    expect(seenByCaller.at(-1)).toBe(60) // optimistic: 10 + 100 - 50
    await expect(deposit).resolves.toMatchObject({ balance: 110 })
    await expect(withdraw).resolves.toMatchObject({ balance: 60 })
    const tooMuch = caller.patch(modelIn(caller, 'wallet'), 'withdraw', 1000)
    await expect(tooMuch).rejects.toMatchObject({ reason: 'insufficient-funds' })
    expect(seenByCaller.at(-1)).toBe(60)
    await until(() => seenByOther.at(-1) === 60)
    expect(seenByOther.every((b) => b >= 0)).toBe(true)

    // An optimistic view the server does not confirm is replaced, and events fire again.
    const a = join_(s, 'w')
    await synced(a)
    const seenA: number[] = []
    a.updated(modelIn(a, 'wallet'), (snap) => seenA.push(snap.balance as number))
    // Another client empties the wallet; a's withdraw was computed on the old balance.
    const drain = other.patch(modelIn(other, 'wallet'), 'withdraw', 60)
    const late = a.patch(modelIn(a, 'wallet'), 'withdraw', 30)
    expect(seenA).toContain(30) // shown at once
    await drain
    await expect(late).rejects.toBeInstanceOf(ActionRefused)
    await until(() => seenA.at(-1) === 0)
  })

  it('direct CRDT writes to an action-only model are rolled back', async () => {
    const { s } = await server()
    await serverModel(s, 'd', 'counter', 'counter', { value: 1 })
    const p = await connectProvider(s.url, 'd')
    cleanups.push(() => p.destroy())
    ;(p.doc.getMap('models').get('counter') as Y.Map<unknown>).set('value', 999)
    await until(() => (p.doc.getMap('models').get('counter') as Y.Map<unknown>).get('value') === 1)
  })

  it.each(backendCases)('offline patches are applied exactly once on reconnect, resends change nothing, a restart loses nothing (%s)', async (_name, backend) => {
    const dir = await storage(backend)
    let { s } = await server({ storage: dir })
    const port = s.port
    await serverModel(s, 'o', 'counter', 'counter', { value: 0 })
    const r = join_(s, 'o')
    await synced(r)
    // Server goes away; the client keeps patching offline.
    await s.close()
    await until(() => r.status !== 'connected')
    const results = Array.from({ length: 10 }, () => r.patch(modelIn(r, 'counter'), 'increment', 1))
    expect((r.actions.snapshot(modelIn(r, 'counter')) as { value: number }).value).toBe(10)
    ;({ s } = await server({ storage: dir, port }))
    await Promise.all(results)
    const value = () => (s.server.rooms.get('o')!.doc.getMap('models').get('counter') as Y.Map<unknown>).get('value')
    expect(value()).toBe(10)
    // Resending the same ids (e.g. an answer lost in a disconnect) applies nothing twice.
    for (let seq = 1; seq <= 10; seq++) {
      const res = await r.request('action', { client: r.actions.clientId, seq, path: ['models', 'counter'], action: 'increment', args: [1] })
      expect(res.ok).toBe(true)
      expect((res.result as { duplicate: boolean }).duplicate).toBe(true)
    }
    expect(value()).toBe(10)
  })

  it('snapshots are deeply frozen; strict mode refuses an impure action', async () => {
    const { s } = await server()
    await serverModel(s, 'f', 'counter', 'counter', { value: 1 })
    await serverModel(s, 'f', 'dice', 'dice', { v: 0 })
    const r = join_(s, 'f')
    await synced(r)
    let snap: Readonly<Record<string, unknown>> = {}
    r.updated(modelIn(r, 'counter'), (x) => (snap = x))
    expect(Object.isFrozen(snap)).toBe(true)
    expect(() => {
      ;(snap as Record<string, unknown>).value = 42
    }).toThrow(TypeError)
    await expect(r.patch(modelIn(r, 'dice'), 'roll')).rejects.toMatchObject({ reason: 'strict-mode' })
    expect(modelIn(r, 'dice').get('v')).toBe(0)
  })

  it('a result that fails the schema is refused (sync and async validators)', async () => {
    const { s } = await server()
    await serverModel(s, 'v', 'sync', 'checked', { balance: 5 })
    await serverModel(s, 'v', 'async', 'checked-async', { balance: 5 })
    const r = join_(s, 'v')
    await synced(r)
    for (const key of ['sync', 'async']) {
      await expect(r.patch(modelIn(r, key), 'spend', 3)).resolves.toMatchObject({ balance: 2 })
      await expect(r.patch(modelIn(r, key), 'spend', 3)).rejects.toMatchObject({ reason: 'invalid-data' })
      expect(modelIn(r, key).get('balance')).toBe(2)
    }
    // Concurrent spends through an async schema still apply one after the other.
    await s.server.rooms.edit('v', (doc) => (doc.getMap('models').get('async') as Y.Map<unknown>).set('balance', 10))
    const results = await Promise.allSettled(Array.from({ length: 4 }, () => r.patch(modelIn(r, 'async'), 'spend', 3)))
    expect(results.filter((x) => x.status === 'fulfilled')).toHaveLength(3)
    await until(() => modelIn(r, 'async').get('balance') === 1)
  })

  it('malformed or unknown action requests are refused with a reason; the room carries on', async () => {
    const { s } = await server()
    await serverModel(s, 'bad', 'counter', 'counter', { value: 0 })
    const r = join_(s, 'bad')
    await synced(r)
    const bad = [
      null,
      { client: 'x', seq: 0, path: ['models', 'counter'], action: 'increment', args: [] },
      { client: 'x', seq: 1, path: 'models/counter', action: 'increment', args: [] },
      { client: 'x', seq: 1, path: ['models', 'counter'], action: 'increment' },
    ]
    for (const params of bad) {
      const res = await r.request('action', params)
      expect(res).toMatchObject({ ok: false, result: { reason: 'malformed' } })
    }
    const missing = await r.request('action', { client: 'x', seq: 1, path: ['models', 'nope'], action: 'increment', args: [] })
    expect(missing).toMatchObject({ ok: false, result: { reason: 'no-model' } })
    const unknown = await r.request('action', { client: 'x', seq: 1, path: ['models', 'counter'], action: 'explode', args: [] })
    expect(unknown).toMatchObject({ ok: false, result: { reason: 'unknown-action' } })
    await expect(r.patch(modelIn(r, 'counter'), 'increment', 1)).resolves.toMatchObject({ value: 1 })
  })

  it('backend code runs the same actions on loaded and unloaded rooms', async () => {
    const { s, actions } = await server()
    await serverModel(s, 'b', 'counter', 'counter', { value: 0 })
    expect(s.server.rooms.get('b')).toBeUndefined()
    await actions.run(s.server.rooms, 'b', ['models', 'counter'], 'increment', [5])
    const r = join_(s, 'b')
    await synced(r)
    expect(modelIn(r, 'counter').get('value')).toBe(5)
    await actions.run(s.server.rooms, 'b', ['models', 'counter'], 'increment', [2])
    await until(() => modelIn(r, 'counter').get('value') === 7)
  })

  it.each(backendCases)('a migration runs exactly once across restarts (%s)', async (_name, backend) => {
    const dir = await storage(backend)
    let runs = 0
    const migrations = [{ name: 'add-level', up: (doc: Y.Doc) => (runs++, doc.getMap('config').set('level', 1)) }]
    for (let i = 0; i < 3; i++) {
      const { s } = await server({ storage: dir }, migrations)
      const p = await connectProvider(s.url, 'm')
      expect(p.doc.getMap('config').get('level')).toBe(1)
      p.destroy()
      await s.close()
      cleanups.pop()
    }
    expect(runs).toBe(1)
    const { s } = await server({ storage: dir }, migrations)
    await s.server.rooms.read('m', (doc) => expect(appliedMigrations(doc)).toEqual(['add-level']))
  })
})
