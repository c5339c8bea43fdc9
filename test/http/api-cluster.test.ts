/**
 * The HTTP API in cluster mode (issue 26): any node answers; a write to a room another node
 * is the authority of is forwarded to that node. Two yroom servers in one process on a
 * throwaway PostgreSQL and redis-server, as in test/cluster/cluster.test.ts.
 */
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { defaultPlugins } from '../../plugins/index.js'
import { CloseCode } from '../../src/shared/protocol/close-codes.js'
import { connectProvider, RawClient, startServer, until, type TestServer } from '../helpers.js'
import { clusterReady, useClusterEnv } from '../cluster/env.js'

const KEY = 'cluster-api-key'
const env = useClusterEnv()

async function nodes(): Promise<[TestServer, TestServer]> {
  let anon = 0
  const dbUrl = await env.database()
  const start = async (name: string) => {
    const s = await startServer({
      ...{ storage: dbUrl, redis: env.redis.url, nodeId: name, leaseMs: 2000, apiKey: KEY, plugins: defaultPlugins() },
      authenticate: ({ token }) => ({ id: token ?? `anon-${name}-${++anon}`, anonymous: token === null }),
    })
    env.cleanup(() => s.close())
    return s
  }
  return [await start('a'), await start('b')]
}

const api = (s: TestServer, path: string, init: RequestInit = {}) =>
  fetch(`http://127.0.0.1:${s.port}/api/v1${path}`, { ...init, headers: { authorization: `Bearer ${KEY}`, ...(init.headers as Record<string, string>) } })

describe.runIf(clusterReady)('HTTP API in cluster mode', () => {
  it('forwards a write to the node that is the room authority, and any node reads', async () => {
    const [a, b] = await nodes()
    const c = await connectProvider(a.url, 'shared')
    env.cleanup(() => c.destroy())
    c.doc.getMap('m').set('from', 'client')
    await until(() => a.server.rooms.get('shared')?.doc.getMap('m').get('from') === 'client')
    await a.server.rooms.get('shared')!.flush()
    expect(b.server.rooms.get('shared')).toBeUndefined()

    // Node b is not the room's authority: its answer comes from node a.
    const source = new Y.Doc()
    source.getMap('m').set('from', 'http-via-b')
    source.getMap('other').set('k', 1)
    const res = await api(b, '/rooms/shared/update', { method: 'POST', body: new Uint8Array(Y.encodeStateAsUpdate(source)) })
    expect(res.status).toBe(200)
    expect(res.headers.get('x-yroom-served-by')).toMatch(/^a\//)
    await until(() => c.doc.getMap('other').get('k') === 1, { message: 'the forwarded update at the client' })
    expect(b.server.rooms.get('shared')).toBeUndefined()

    // Reads answer on either node (b reads what a stored).
    await a.server.rooms.get('shared')!.flush()
    const read = (await (await api(b, '/rooms/shared')).json()) as { doc: { other: Record<string, unknown> } }
    expect(read.doc.other).toEqual({ k: 1 })

    // Delete through b: a closes the room's connections and deletes it.
    const raw = new RawClient(a.url, 'shared')
    env.cleanup(() => raw.ws.terminate())
    await raw.open()
    c.provider.shouldConnect = false
    const del = await api(b, '/rooms/shared', { method: 'DELETE' })
    expect(del.status).toBe(200)
    await raw.closed
    expect(raw.closeCode).toBe(CloseCode.ROOM_DELETED)
    expect(await a.server.storage.list()).not.toContain('shared')
  })

  it('a node that holds no room takes the write itself when nobody holds the room', async () => {
    const [, b] = await nodes()
    const source = new Y.Doc()
    source.getArray('items').push(['x'])
    const res = await api(b, '/rooms/free/update', { method: 'POST', body: new Uint8Array(Y.encodeStateAsUpdate(source)) })
    expect(res.status).toBe(200)
    expect(res.headers.get('x-yroom-served-by')).toBeNull()
    const read = (await (await api(b, '/rooms/free')).json()) as { doc: { items: unknown[] } }
    expect(read.doc.items).toEqual(['x'])
  })

  it("read-only reaches a client whose room another node serves: that node rolls its writes back", async () => {
    const [a, b] = await nodes()
    const owner = await connectProvider(a.url, 'rel') // a is the room's authority
    env.cleanup(() => owner.destroy())
    const carol = new RawClient(b.url, 'rel', { query: '?token=carol' }) // relayed by b
    env.cleanup(() => carol.ws.terminate())
    await carol.open()
    carol.doc.getMap('m').set('before', 1)
    await until(() => owner.doc.getMap('m').get('before') === 1, { message: "carol's write through b" })
    const ro = await api(b, '/principals/carol/read-only', { method: 'PUT', body: JSON.stringify({ readOnly: true }) })
    expect(await ro.json()).toEqual({ changed: 1 })
    carol.doc.getMap('m').set('after', 2)
    await until(() => carol.doc.getMap('m').get('after') === undefined, { message: 'the write rolled back at carol' })
    expect(owner.doc.getMap('m').get('after')).toBeUndefined()
    expect(owner.doc.getMap('m').get('before')).toBe(1)
  })

  it('kicks and sets read-only a principal on every node, wherever it is connected', async () => {
    const [a, b] = await nodes()
    const onA = new RawClient(a.url, 'r1', { query: '?token=carol' })
    const onB = new RawClient(b.url, 'r2', { query: '?token=carol' })
    const other = new RawClient(b.url, 'r2', { query: '?token=dave' })
    env.cleanup(() => onA.ws.terminate(), () => onB.ws.terminate(), () => other.ws.terminate())
    await Promise.all([onA.open(), onB.open(), other.open()])
    await until(() => a.server.connections.size === 1 && b.server.connections.size === 2)

    const ro = await api(a, '/principals/carol/read-only', { method: 'PUT', body: JSON.stringify({ readOnly: true }) })
    expect(await ro.json()).toEqual({ changed: 2 })
    expect([...b.server.connections].find((c) => c.principal.id === 'carol')?.readOnly).toBe(true)

    const kick = await api(a, '/principals/carol/kick', { method: 'POST', body: JSON.stringify({ reason: 'gone' }) })
    expect(await kick.json()).toEqual({ closed: 2 })
    await Promise.all([onA.closed, onB.closed])
    expect([onA.closeCode, onB.closeCode]).toEqual([CloseCode.KICKED, CloseCode.KICKED])
    expect(other.closeCode).toBeNull()
  })
})
