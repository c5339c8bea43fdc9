/**
 * Cluster failover (issue 24, SPEC §11) with nodes as real processes (nodes.ts), so that a
 * node can die (kill -9) or stall (SIGSTOP) the way machines do. Stock y-websocket clients;
 * a throwaway PostgreSQL and redis-server.
 */
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { connectProvider, until, type ProviderClient } from '../helpers.js'
import { clusterReady, useClusterEnv } from './env.js'
import { startNode, type NodeProcess } from './nodes.js'

const LEASE_MS = 2000
const env = useClusterEnv()

async function nodes(...names: string[]): Promise<NodeProcess[]> {
  const dbUrl = await env.database()
  const out: NodeProcess[] = []
  for (const name of names) {
    const n = await startNode({ name, data: dbUrl, redis: env.redis.url, leaseMs: LEASE_MS })
    env.cleanup(() => n.close())
    out.push(n)
  }
  return out
}

interface Client extends ProviderClient {
  closes: number
}

async function client(n: NodeProcess, room: string): Promise<Client> {
  const c = (await connectProvider(n.url, room)) as Client
  c.closes = 0
  c.provider.on('connection-close', () => c.closes++)
  let destroyed = false
  const destroy = c.destroy
  c.destroy = () => {
    if (!destroyed) destroy()
    destroyed = true
  }
  env.cleanup(() => c.destroy())
  return c
}

async function holds(n: NodeProcess, room: string): Promise<boolean> {
  try {
    const res = await fetch(`${n.httpUrl}/cluster`)
    const body = (await res.json()) as { rooms: Array<{ name: string }> }
    return body.rooms.some((r) => r.name === room)
  } catch {
    return false
  }
}

/** Appends `name:i` to the shared list every few ms until stopped. */
function writer(c: ProviderClient, name: string) {
  let i = 0
  const t = setInterval(() => c.doc.getArray<string>('log').push([`${name}:${i++}`]), 15)
  return { stop: () => clearInterval(t), written: () => i }
}

/** Polls an asynchronous check (an HTTP status) until it holds. */
async function eventually(check: () => Promise<boolean>, { timeout = 5000, message = 'condition' } = {}): Promise<void> {
  const deadline = performance.now() + timeout
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${message}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

const items = (c: ProviderClient) => c.doc.getArray<string>('log').toArray()

describe.skipIf(!clusterReady)('cluster failover (SPEC §11)', () => {
  it('kill -9 of the authority while both nodes write: a node with clients takes over within two leases, nothing seen is lost, clients stay connected', async () => {
    const [a, b] = await nodes('A', 'B')
    const wa = await client(a, 'kill')
    const wb = await client(b, 'kill')
    const observer = await client(b, 'kill')
    expect(await holds(a, 'kill')).toBe(true)
    const seen = new Set<string>()
    observer.doc.on('afterTransaction', () => items(observer).forEach((x) => seen.add(x)))
    const writeA = writer(wa, 'a')
    const writeB = writer(wb, 'b')
    await until(() => seen.size > 40, { message: 'writes flow through both nodes' })
    await a.kill9()
    const killedAt = performance.now()
    writeA.stop()
    await eventually(() => holds(b, 'kill'), { timeout: 4 * LEASE_MS, message: 'B takes the room over' })
    const takeover = performance.now() - killedAt
    await until(() => seen.has(`b:${writeB.written() - 1}`), { message: 'writes go on after the takeover' })
    writeB.stop()
    const last = `b:${writeB.written() - 1}`
    await until(() => items(observer).includes(last) && items(wb).length === items(observer).length, { message: 'B replicas converge' })
    const late = await client(b, 'kill')
    const final = new Set(items(late))
    // Everything any client saw is still there, and every write made through B.
    for (const x of seen) expect(final.has(x), `${x} was seen and then lost`).toBe(true)
    for (let i = 0; i < writeB.written(); i++) expect(final.has(`b:${i}`), `b:${i} lost`).toBe(true)
    expect(items(late)).toEqual(items(observer))
    // B's clients were never disconnected: the takeover happened under them.
    expect(wb.closes).toBe(0)
    expect(observer.closes).toBe(0)
    expect(takeover).toBeLessThan(2 * LEASE_MS)
  })

  it('SIGSTOP of the authority past its lease, then SIGCONT: it is fenced, replicas converge, nothing acknowledged is lost', async () => {
    const [a, b] = await nodes('A', 'B')
    const wa = await client(a, 'stall')
    const wb = await client(b, 'stall')
    const observer = await client(b, 'stall')
    const seen = new Set<string>()
    observer.doc.on('afterTransaction', () => items(observer).forEach((x) => seen.add(x)))
    const writeA = writer(wa, 'a')
    const writeB = writer(wb, 'b')
    await until(() => seen.size > 40, { message: 'writes flow' })
    a.stop()
    await eventually(() => holds(b, 'stall'), { timeout: 4 * LEASE_MS, message: 'B takes the room over' })
    await until(() => seen.has(`b:${writeB.written() - 1}`), { message: 'writes go on at B' })
    a.cont()
    // A finds its lease gone: it may not write the room; its clients reconnect through it to B.
    await eventually(async () => !(await holds(a, 'stall')), { timeout: 4 * LEASE_MS, message: 'A gives the room up' })
    await until(() => wa.provider.synced && wa.closes > 0, { timeout: 10_000, message: "A's client back" })
    writeA.stop()
    writeB.stop()
    const lastA = `a:${writeA.written() - 1}`
    const lastB = `b:${writeB.written() - 1}`
    const replicas = [wa, wb, observer]
    await until(() => replicas.every((c) => items(c).includes(lastA) && items(c).includes(lastB) && items(c).length === items(wa).length), {
      timeout: 15_000,
      message: 'all replicas converge',
    })
    const late = await client(b, 'stall')
    const final = new Set(items(late))
    for (const x of seen) expect(final.has(x), `${x} was seen and then lost`).toBe(true)
    for (let i = 0; i < writeA.written(); i++) expect(final.has(`a:${i}`), `a:${i} lost`).toBe(true)
    for (let i = 0; i < writeB.written(); i++) expect(final.has(`b:${i}`), `b:${i} lost`).toBe(true)
    expect(new Set(items(wa))).toEqual(final)
  })

  it("lifetime deletions run when an owner's node dies (kill -9); its client id is accepted again through another node", async () => {
    const [a, b] = await nodes('A', 'B')
    const observer = await client(a, 'life')
    const owner = await client(b, 'life')
    owner.doc.transact(() => {
      const m = new Y.Map<unknown>()
      const meta = new Y.Map<unknown>()
      meta.set('ownerID', owner.doc.clientID)
      meta.set('destroyWhenOwnerOrLastClientLeaves', true)
      m.set('$meta', meta)
      owner.doc.getMap('models').set('eph', m)
    })
    await until(() => observer.doc.getMap('models').has('eph'), { message: 'model relayed' })
    const ownerId = owner.doc.clientID
    await b.kill9()
    owner.provider.destroy()
    await until(() => !observer.doc.getMap('models').has('eph'), { timeout: 4 * LEASE_MS, message: "the dead node's client left; its ephemeral model is deleted" })
    // The same client (its document, so its Yjs client id) comes back through A: its
    // binding was released with its leave.
    const back = await connectProvider(a.url, 'life', { doc: owner.doc })
    env.cleanup(() => back.provider.destroy())
    expect(back.doc.clientID).toBe(ownerId)
    back.doc.getMap('models').set('back', ownerId)
    await until(() => observer.doc.getMap('models').get('back') === ownerId, { message: 'the returning client writes under its id' })
  })
})
