/**
 * The inspector in cluster mode (issue 27): every node lists every stored room and opens any
 * of them live: a room served by another node through that node's event stream (passed
 * through, no lease taken here), a room served here with its clients.
 */
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { defaultPlugins } from '../../plugins/index.js'
import { inspectorPlugin } from '../../plugins/inspector/index.js'
import type { TreeNode } from '../../plugins/inspector/tree.js'
import type { RoomRow } from '../../plugins/inspector/room-list.js'
import type { ClientInfo } from '../../plugins/inspector/room-watch.js'
import { connectProvider, startServer, until, type TestServer } from '../helpers.js'
import { clusterReady, useClusterEnv } from '../cluster/env.js'
import { openSse, type SseStream } from './sse-client.js'

const env = useClusterEnv()

async function node(url: string, name: string): Promise<TestServer & { http: string }> {
  const s = await startServer({ storage: url, redis: env.redis.url, nodeId: name, leaseMs: 2000, plugins: [...defaultPlugins(), inspectorPlugin({ open: true })] })
  env.cleanup(() => s.close())
  return { ...s, http: `http://127.0.0.1:${s.port}` }
}

async function sse(url: string): Promise<SseStream> {
  const st = await openSse(url)
  env.cleanup(() => st.close())
  return st
}

const value = (tree: TreeNode[], root: string, key: string) => tree.find((n) => n.k === root)?.c?.find((n) => n.k === key)?.v

describe.skipIf(!clusterReady)('inspector in cluster mode', { timeout: 60_000 }, () => {
  it("a room served by node A: listed and shown on node B from storage, live with its clients on A", async () => {
    const dbUrl = await env.database()
    const a = await node(dbUrl, 'a')
    const b = await node(dbUrl, 'b')
    const doc = new Y.Doc()
    const c = await connectProvider(a.url, 'shared', { doc })
    env.cleanup(() => c.destroy())
    doc.getMap('models').set('k', 'one')
    await until(() => a.server.rooms.get('shared')?.doc.getMap('models').get('k') === 'one')
    await a.server.rooms.get('shared')!.flush()

    // Node B: the room is listed as served by another node, and shown live as node A
    // serves it: B passes A's event stream through (clients, the log, every change).
    const list = await sse(`${b.http}/inspect/events/rooms`)
    await until(() => list.of<RoomRow[]>('rooms').some((rows) => rows.some((r) => r.name === 'shared' && r.where === 'remote')), { timeout: 10_000, message: 'listed as remote on b' })
    const onB = await sse(`${b.http}/inspect/events/room?name=shared`)
    const nodeA = a.server.storage.leases!().holder
    await until(() => onB.of<{ mode: string; node: string | null }>('hello').some((h) => h.mode === 'live' && h.node === nodeA), { timeout: 10_000, message: "a's live stream on b" })
    await until(() => onB.of<{ tree: TreeNode[] }>('tree').some((t) => value(t.tree, 'models', 'k') === 'one'), { timeout: 10_000, message: 'tree on b' })
    await until(() => onB.of<ClientInfo[]>('clients').some((list) => list.length === 1 && list[0].node === nodeA), { timeout: 10_000, message: "a's client on b" })
    expect(b.server.rooms.get('shared')).toBeUndefined() // B neither loaded the room nor took its lease

    // A change on A reaches B's inspector at once (not through storage).
    doc.getMap('models').set('k', 'two')
    await until(() => onB.of<{ tree: TreeNode[] }>('tree').some((t) => value(t.tree, 'models', 'k') === 'two'), { timeout: 2_000, message: 'change seen on b' })

    // Node A: live, with the client and its node.
    const onA = await sse(`${a.http}/inspect/events/room?name=shared`)
    await until(() => onA.of<{ mode: string }>('hello').some((h) => h.mode === 'live'))
    await until(() => onA.of<ClientInfo[]>('clients').some((list) => list.length === 1 && list[0].node !== null))
  })
})
