/**
 * Cluster mode (issue 24, SPEC §11), in one process: several yroom servers on one throwaway
 * PostgreSQL and one throwaway redis-server, stock y-websocket clients on each. The
 * process-level failures (kill -9, SIGSTOP) are in failover.test.ts.
 */
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { defaultPlugins } from '../../plugins/index.js'
import { connectProvider, startServer, until, type ProviderClient, type TestServer } from '../helpers.js'
import { clusterReady, useClusterEnv } from './env.js'

const env = useClusterEnv()

async function node(data: string, name: string, leaseMs = 2000): Promise<TestServer> {
  const s = await startServer({ storage: data, redis: env.redis.url, nodeId: name, leaseMs, plugins: defaultPlugins() })
  let closed = false
  env.cleanup(() => (closed ? undefined : s.close()))
  const close = s.close
  return { ...s, close: () => ((closed = true), close()) }
}

async function client(url: string, room: string, id?: number): Promise<ProviderClient> {
  const doc = new Y.Doc()
  if (id !== undefined) doc.clientID = id
  const c = await connectProvider(url, room, { doc })
  env.cleanup(() => c.destroy())
  return c
}

/** The replica's models as JSON with sorted keys (replicas may list map keys in any order). */
const json = (c: ProviderClient) => {
  const m = c.doc.getMap('models').toJSON()
  return JSON.stringify(Object.keys(m).sort().map((k) => [k, m[k]]))
}
const same = (cs: ProviderClient[]) => cs.every((c) => json(c) === json(cs[0]))

async function cluster(path: string): Promise<{ node: string; rooms: Array<{ name: string; epoch: number }>; cluster: { relayed: Array<{ name: string; clients: number }>; remoteClients: number } }> {
  const res = await fetch(path)
  expect(res.status).toBe(200)
  return (await res.json()) as never
}
const httpOf = (s: TestServer) => `http://127.0.0.1:${s.port}/cluster`

/** Records every state of models.m a client ever had. */
function record(c: ProviderClient): unknown[] {
  const seen: unknown[] = []
  c.doc.on('afterTransaction', () => seen.push((c.doc.getMap('models').get('m') as Y.Map<unknown> | undefined)?.toJSON()))
  return seen
}

describe.skipIf(!clusterReady)('cluster mode (SPEC §11)', () => {
  it('clients on different nodes converge; one node is the authority, the other relays', async () => {
    const data = await env.database()
    const a = await node(data, 'A')
    const b = await node(data, 'B')
    const clients = [await client(a.url, 'doc'), await client(b.url, 'doc'), await client(b.url, 'doc'), await client(a.url, 'doc')]
    for (let round = 0; round < 20; round++) {
      for (const [i, c] of clients.entries()) c.doc.getMap('models').set(`k${i}`, round)
    }
    clients[1].doc.getText('text').insert(0, 'from B ')
    clients[0].doc.getText('text').insert(0, 'from A ')
    await until(() => same(clients) && clients.every((c) => c.doc.getText('text').length === 14), { message: 'converged' })
    expect(clients[0].doc.getMap('models').toJSON()).toEqual({ k0: 19, k1: 19, k2: 19, k3: 19 })
    const [sa, sb] = [await cluster(httpOf(a)), await cluster(httpOf(b))]
    expect(sa.rooms.map((r) => r.name)).toEqual(['doc'])
    expect(sb.rooms).toEqual([])
    expect(sb.cluster.relayed).toEqual([{ name: 'doc', clients: 2 }])
    expect(sa.cluster.remoteClients).toBe(2)
    const metric = async (s: TestServer, line: RegExp) => Number(line.exec(await (await fetch(`http://127.0.0.1:${s.port}/metrics`)).text())?.[1] ?? 0)
    expect(await metric(b, /^yroom_cluster_relayed_total\{direction="out"\} (\d+)/m)).toBeGreaterThan(40)
    expect(await metric(a, /^yroom_cluster_relayed_total\{direction="in"\} (\d+)/m)).toBeGreaterThan(40)
    expect(await metric(a, /^yroom_room_leases_held (\d+)/m)).toBe(1)
    expect(await metric(b, /^yroom_room_leases_held (\d+)/m)).toBe(0)
  })

  it('cluster mode refuses storage that is not shared, with why', async () => {
    await expect(startServer({ storage: ':memory:', redis: env.redis.url })).rejects.toThrow(/needs storage shared by every node: use --data postgres:/)
    await expect(startServer({ storage: await env.database(), redis: 'http://127.0.0.1:1' })).rejects.toThrow(/--redis must be a redis:\/\/ URL/)
  })

  it('a write refused on the authority, sent through another node, is never seen anywhere and is rolled back', async () => {
    const data = await env.database()
    const a = await node(data, 'A')
    const b = await node(data, 'B')
    const owner = await client(a.url, 'owned')
    owner.doc.transact(() => {
      const m = new Y.Map<unknown>()
      const meta = new Y.Map<unknown>()
      meta.set('ownerID', owner.doc.clientID)
      meta.set('preventOwnershipTakeover', true)
      m.set('$meta', meta)
      m.set('x', 1)
      owner.doc.getMap('models').set('m', m)
    })
    const observerA = await client(a.url, 'owned')
    const observerB = await client(b.url, 'owned')
    const attacker = await client(b.url, 'owned')
    await until(() => (attacker.doc.getMap('models').get('m') as Y.Map<unknown> | undefined)?.get('x') === 1)
    const seen = [record(owner), record(observerA), record(observerB)]
    ;(attacker.doc.getMap('models').get('m') as Y.Map<unknown>).set('x', 666)
    // The attacker's replica is rolled back by the authority's compensation, through B.
    await until(() => (attacker.doc.getMap('models').get('m') as Y.Map<unknown>).get('x') === 1, { message: 'rollback reaches the attacker' })
    // An honest write after it goes through: the refused one was never delivered before it.
    ;(owner.doc.getMap('models').get('m') as Y.Map<unknown>).set('x', 2)
    await until(() => [observerA, observerB, attacker].every((c) => (c.doc.getMap('models').get('m') as Y.Map<unknown>).get('x') === 2), { message: 'honest write' })
    for (const s of seen) for (const v of s) expect((v as { x?: number } | undefined)?.x).not.toBe(666)
    const late = await client(b.url, 'owned')
    expect((late.doc.getMap('models').get('m') as Y.Map<unknown>).get('x')).toBe(2)
  })

  it('concurrent claims from two nodes yield one owner, the same on every replica', async () => {
    const data = await env.database()
    const a = await node(data, 'A')
    const b = await node(data, 'B')
    const first = await client(a.url, 'claims')
    first.doc.transact(() => {
      const m = new Y.Map<unknown>()
      m.set('$meta', new Y.Map<unknown>())
      first.doc.getMap('models').set('m', m)
    })
    const ca = await client(a.url, 'claims')
    const cb = await client(b.url, 'claims')
    await until(() => cb.doc.getMap('models').has('m') && ca.doc.getMap('models').has('m'))
    const claim = (c: ProviderClient) =>
      c.doc.transact(() => {
        const meta = (c.doc.getMap('models').get('m') as Y.Map<unknown>).get('$meta') as Y.Map<unknown>
        meta.set('ownerID', c.doc.clientID)
        meta.set('preventOwnershipTakeover', true)
      })
    claim(ca)
    claim(cb)
    const ownerOf = (c: ProviderClient) => ((c.doc.getMap('models').get('m') as Y.Map<unknown>).get('$meta') as Y.Map<unknown>).get('ownerID')
    const everyone = [first, ca, cb]
    await until(() => everyone.every((c) => ownerOf(c) === ownerOf(first)) && [ca.doc.clientID, cb.doc.clientID].includes(ownerOf(first) as number), {
      message: 'one owner everywhere',
    })
    // It stays so: the loser's claim was refused, not merely overwritten for a while.
    const late = await client(b.url, 'claims')
    expect(ownerOf(late)).toBe(ownerOf(first))
  })

  it("lifetime deletions run when an owner's node shuts down", async () => {
    const data = await env.database()
    const a = await node(data, 'A')
    const b = await node(data, 'B')
    const observer = await client(a.url, 'life')
    const owner = await client(b.url, 'life')
    owner.doc.transact(() => {
      const m = new Y.Map<unknown>()
      const meta = new Y.Map<unknown>()
      meta.set('ownerID', owner.doc.clientID)
      meta.set('destroyWhenOwnerOrLastClientLeaves', true)
      m.set('$meta', meta)
      owner.doc.getMap('models').set('eph', m)
    })
    await until(() => observer.doc.getMap('models').has('eph'), { message: 'model relayed' })
    await b.close()
    await until(() => !observer.doc.getMap('models').has('eph'), { message: 'ephemeral model of the departed owner deleted' })
  })

  it('three nodes and many rooms: authorities spread over the nodes, every room converges', async () => {
    const data = await env.database()
    const nodes = [await node(data, 'A'), await node(data, 'B'), await node(data, 'C')]
    const rooms = Array.from({ length: 9 }, (_, i) => `spread-${i}`)
    const all: ProviderClient[][] = []
    for (const [i, room] of rooms.entries()) {
      // The first client of room i joins node i % 3: that node becomes its authority.
      const cs = [await client(nodes[i % 3].url, room), await client(nodes[(i + 1) % 3].url, room), await client(nodes[(i + 2) % 3].url, room)]
      cs.forEach((c, j) => c.doc.getMap('models').set(`c${j}`, room))
      all.push(cs)
    }
    for (const cs of all) await until(() => same(cs) && Object.keys(cs[0].doc.getMap('models').toJSON()).length === 3, { message: 'room converged' })
    const held = await Promise.all(nodes.map(async (n) => (await cluster(httpOf(n))).rooms.map((r) => r.name).sort()))
    expect(held).toEqual([
      ['spread-0', 'spread-3', 'spread-6'],
      ['spread-1', 'spread-4', 'spread-7'],
      ['spread-2', 'spread-5', 'spread-8'],
    ])
  })

  it('Redis restarted empty: rooms recover and every client converges, nothing lost', async () => {
    const data = await env.database()
    const a = await node(data, 'A')
    const b = await node(data, 'B')
    const ca = await client(a.url, 'redis-restart')
    const cb = await client(b.url, 'redis-restart')
    ca.doc.getMap('models').set('before', 1)
    await until(() => cb.doc.getMap('models').get('before') === 1)
    await env.redis.kill()
    // Writes while Redis is down: the authority's own clients still work together.
    const ca2 = await client(a.url, 'redis-restart')
    ca.doc.getMap('models').set('a-during', 1)
    cb.doc.getMap('models').set('b-during', 1)
    await until(() => ca2.doc.getMap('models').get('a-during') === 1, { message: 'authority serves its own clients while Redis is down' })
    await env.redis.start()
    ca.doc.getMap('models').set('a-after', 1)
    cb.doc.getMap('models').set('b-after', 1)
    const want = { before: 1, 'a-during': 1, 'b-during': 1, 'a-after': 1, 'b-after': 1 }
    await until(() => same([ca, cb, ca2]) && Object.keys(ca.doc.getMap('models').toJSON()).length === 5, {
      timeout: 15_000,
      message: 'converged after Redis returned',
    })
    expect(ca.doc.getMap('models').toJSON()).toEqual(want)
    const late = await client(b.url, 'redis-restart')
    expect(late.doc.getMap('models').toJSON()).toEqual(want)
  })
})
