/**
 * The inspector's server channel (issue 27): access control, read-only, no cost while no
 * page is open, and what it reports (tree with owners, rejections with path and reason).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as Y from 'yjs'
import { defaultPlugins } from '../../plugins/index.js'
import { inspectorPlugin, type InspectorPlugin } from '../../plugins/inspector/index.js'
import type { LogEntry } from '../../plugins/inspector/log.js'
import type { TreeNode } from '../../plugins/inspector/tree.js'
import type { RoomRow } from '../../plugins/inspector/room-list.js'
import { buildInspector } from '../../examples/inspector/build.js'
import { RawClient, startServer, until, type TestServer } from '../helpers.js'
import { createModel, model } from '../authority/trio.js'
import { fetchText, openSse, type SseStream } from './sse-client.js'

const KEY = 'k'.repeat(40)
let pageDir: string
let s: TestServer | undefined
let inspector: InspectorPlugin
const streams: SseStream[] = []
const clients: RawClient[] = []

beforeAll(async () => {
  pageDir = mkdtempSync(join(tmpdir(), 'yroom-inspector-page-'))
  await buildInspector(pageDir)
})
afterAll(() => rmSync(pageDir, { recursive: true, force: true }))
afterEach(async () => {
  for (const st of streams.splice(0)) st.close()
  for (const c of clients.splice(0)) await c.close()
  await s?.close()
  s = undefined
})

async function server(access: { open?: boolean; apiKey?: string }): Promise<string> {
  inspector = inspectorPlugin({ ...access, pageDir })
  s = await startServer({ plugins: [...defaultPlugins(), inspector], tickMs: 5 })
  return `http://127.0.0.1:${s.port}`
}

async function sse(url: string, headers: Record<string, string> = {}): Promise<SseStream> {
  const st = await openSse(url, headers)
  streams.push(st)
  return st
}

async function client(room: string): Promise<RawClient> {
  const c = await new RawClient(s!.url, room).sync()
  clients.push(c)
  c.hello()
  return c
}

/** Listeners the room's document has for `event` (the inspector adds one while watching). */
function listeners(room: string, event: string): number {
  const doc = s!.server.rooms.get(room)!.doc as unknown as { _observers: Map<string, Set<unknown>> }
  return doc._observers.get(event)?.size ?? 0
}

function find(tree: TreeNode[], path: Array<string | number>): TreeNode | undefined {
  let nodes = tree
  let node: TreeNode | undefined
  for (const k of path) {
    node = nodes.find((n) => n.k === k)
    if (!node) return undefined
    nodes = node.c ?? []
  }
  return node
}

describe('inspector access', () => {
  it('without the dev flag or an API key there is no inspector: 404', async () => {
    const http = await server({})
    for (const path of ['/inspect/', '/inspect/events/rooms', '/inspect/events/room?name=a', '/inspect/main.js']) {
      expect((await fetchText(http + path)).status, path).toBe(404)
    }
  })

  it('with an API key: 401 without it or with a wrong one; the key as Bearer or ?key= opens it', async () => {
    const http = await server({ apiKey: KEY })
    expect((await fetchText(`${http}/inspect/`)).status).toBe(401)
    expect((await fetchText(`${http}/inspect/events/rooms`)).status).toBe(401)
    expect((await fetchText(`${http}/inspect/events/room?name=a&key=wrong`)).status).toBe(401)
    expect((await fetchText(`${http}/inspect/`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401)
    const page = await fetchText(`${http}/inspect/`, { headers: { authorization: `Bearer ${KEY}` } })
    expect(page.status).toBe(200)
    expect(page.body).toContain('yroom inspector')
    expect((await fetchText(`${http}/inspect/?key=${KEY}`)).status).toBe(200)
    const st = await sse(`${http}/inspect/events/rooms?key=${KEY}`)
    expect(st.status).toBe(200)
    await until(() => st.of('rooms').length > 0)
    // The scheme is case-insensitive (RFC 9110), as the HTTP API reads it.
    expect((await fetchText(`${http}/inspect/`, { headers: { authorization: `bearer ${KEY}` } })).status).toBe(200)
    expect((await fetchText(`${http}/inspect/`, { headers: { authorization: `bearer wrong` } })).status).toBe(401)
  })

  it('with the dev flag it is open', async () => {
    const http = await server({ open: true })
    expect((await fetchText(`${http}/inspect/`)).status).toBe(200)
    expect((await fetchText(`${http}/inspect`)).status).toBe(301)
    expect((await fetchText(`${http}/inspect/main.js`)).status).toBe(200)
    expect((await fetchText(`${http}/inspect/events/room?name=%01`)).status).toBe(400)
    // Only the page's own files: not what every object inherits.
    for (const path of ['/inspect/constructor', '/inspect/__proto__', '/inspect/toString', '/inspect/hasOwnProperty']) {
      expect((await fetchText(http + path)).status, path).toBe(404)
    }
  })
})

describe('inspector channel', () => {
  it('is read-only: other methods are refused, nothing sent changes a room, opening a stored room does not load it', async () => {
    const http = await server({ open: true })
    const owner = await client('r')
    createModel(owner.doc, 'a', { x: 1 })
    await until(() => (model(s!.server.rooms.get('r')!.doc, 'a') as Y.Map<unknown> | undefined)?.get('x') === 1)
    const before = Y.encodeStateVector(s!.server.rooms.get('r')!.doc)
    const update = (() => {
      const d = new Y.Doc()
      d.getMap('models').set('evil', 1)
      return Y.encodeStateAsUpdate(d)
    })()
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
      for (const path of ['/inspect/', '/inspect/events/room?name=r', '/inspect/events/rooms']) {
        const res = await fetchText(http + path, { method, body: update })
        expect(res.status, `${method} ${path}`).toBe(405)
      }
    }
    // A GET carrying a body: the stream only ever writes.
    const st = await openSse(`${http}/inspect/events/room?name=r`)
    streams.push(st)
    await fetchText(`${http}/inspect/events/room?name=r`, { body: update }).catch(() => {})
    await until(() => st.of('tree').length > 0)
    expect(Y.encodeStateVector(s!.server.rooms.get('r')!.doc)).toEqual(before)
    expect(s!.server.rooms.get('r')!.doc.getMap('models').has('evil')).toBe(false)

    // A stored room nobody is in: shown from storage, never loaded.
    await s!.server.rooms.edit('stored', (doc) => doc.getMap('models').set('k', 'v'))
    const size = await s!.server.storage.size('stored')
    const stored = await sse(`${http}/inspect/events/room?name=stored`)
    await until(() => stored.of<{ tree: TreeNode[] }>('tree').some((t) => find(t.tree, ['models', 'k'])?.v === 'v'))
    expect(stored.of<{ mode: string }>('hello')[0].mode).toBe('stored')
    expect(s!.server.rooms.get('stored')).toBeUndefined()
    expect(await s!.server.storage.size('stored')).toBe(size)
  })

  it('costs nothing while no inspector is open: no listener on the room, no event encoded; it detaches when the last closes', async () => {
    const http = await server({ open: true })
    const a = await client('busy')
    const baseline = listeners('busy', 'afterTransaction')
    for (let i = 0; i < 50; i++) a.doc.getMap('models').set(`k${i}`, i)
    await until(() => s!.server.rooms.get('busy')!.doc.getMap('models').get('k49') === 49)
    expect(inspector.counters.encodedEvents).toBe(0)
    expect(inspector.watched()).toEqual([])
    expect(listeners('busy', 'afterTransaction')).toBe(baseline)

    const st = await sse(`${http}/inspect/events/room?name=busy`)
    await until(() => st.of('tree').length > 0)
    expect(listeners('busy', 'afterTransaction')).toBe(baseline + 1)
    a.doc.getMap('models').set('watched', true)
    await until(() => st.of<{ tree: TreeNode[] }>('tree').some((t) => find(t.tree, ['models', 'watched'])?.v === true))
    expect(inspector.counters.encodedEvents).toBeGreaterThan(0)

    st.close()
    await until(() => inspector.watched().length === 0)
    expect(listeners('busy', 'afterTransaction')).toBe(baseline)
    const encoded = inspector.counters.encodedEvents
    for (let i = 0; i < 20; i++) a.doc.getMap('models').set(`after${i}`, i)
    await until(() => s!.server.rooms.get('busy')!.doc.getMap('models').get('after19') === 19)
    // Nothing left running that could encode later: no ticker, no keepalive.
    expect(inspector.counters.timers).toBe(0)
    expect(inspector.counters.encodedEvents).toBe(encoded)
  })

  it('reports the model tree with owners, ownership changes, rejections with path, reason and who, joins and leaves', async () => {
    const http = await server({ open: true })
    const owner = await client('x')
    createModel(owner.doc, 'a', { x: 1 }, { ownerID: owner.doc.clientID, preventOwnershipTakeover: true, destroyWhenOwnerOrLastClientLeaves: true })
    const st = await sse(`${http}/inspect/events/room?name=x`)
    await until(() => st.of<{ tree: TreeNode[] }>('tree').some((t) => find(t.tree, ['models', 'a'])?.owner === owner.doc.clientID))
    const a = find(st.of<{ tree: TreeNode[] }>('tree').at(-1)!.tree, ['models', 'a'])!
    expect(a).toMatchObject({ t: 'model', owner: owner.doc.clientID, pt: true, dl: true })
    expect(find(a.c!, ['x'])).toMatchObject({ t: 'value', v: 1 })

    const offender = await client('x')
    await until(() => model(offender.doc, 'a')?.get('x') === 1)
    model(offender.doc, 'a').set('x', 2)
    const logged = () => st.of<LogEntry[]>('log').flat()
    await until(() => logged().some((e) => e.kind === 'rejection'))
    const rejection = logged().find((e) => e.kind === 'rejection')!
    expect(rejection).toMatchObject({ path: ['models', 'a', 'x'], reason: 'owned-by-another', clientID: offender.doc.clientID, owner: { path: 'models/a', ownerID: owner.doc.clientID } })
    expect(logged().some((e) => e.kind === 'join' && e.clientID === offender.doc.clientID)).toBe(true)
    await until(() => st.of<Array<{ clientIDs: number[]; rejected: number }>>('clients').some((list) => list.some((c) => c.clientIDs.includes(offender.doc.clientID) && c.rejected === 1)))

    // The owner releases the model: an ownership change in the log.
    ;(model(owner.doc, 'a').get('$meta') as Y.Map<unknown>).set('ownerID', -1)
    await until(() => logged().some((e) => e.kind === 'owner' && e.path === 'models/a' && e.from === owner.doc.clientID && e.to === -1))
    await offender.close()
    clients.splice(clients.indexOf(offender), 1)
    await until(() => logged().some((e) => e.kind === 'leave' && e.clientID === offender.doc.clientID))
  })

  it('follows a room across unload and reload: stored state while unloaded, live again when a client returns', async () => {
    inspector = inspectorPlugin({ open: true, pageDir })
    s = await startServer({ plugins: [...defaultPlugins(), inspector], tickMs: 5, idleShutdownMs: 50 })
    const http = `http://127.0.0.1:${s.port}`
    const first = await client('cycle')
    first.doc.getMap('models').set('k', 1)
    const st = await sse(`${http}/inspect/events/room?name=cycle`)
    const modes = () => st.of<{ mode: string }>('hello').map((h) => h.mode)
    await until(() => modes().at(-1) === 'live')
    await first.close()
    clients.splice(clients.indexOf(first), 1)
    await until(() => s!.server.rooms.get('cycle') === undefined, { message: 'unloaded' })
    await until(() => modes().at(-1) === 'stored', { timeout: 5000, message: 'stored mode' })
    const again = await client('cycle')
    await until(() => modes().at(-1) === 'live', { timeout: 5000, message: 'live again' })
    again.doc.getMap('models').set('k', 2)
    await until(() => st.of<{ tree: TreeNode[] }>('tree').some((t) => find(t.tree, ['models', 'k'])?.v === 2))
  })

  it('lists stored and loaded rooms with their clients', async () => {
    const http = await server({ open: true })
    await s!.server.rooms.edit('cold', (doc) => doc.getMap('m').set('a', 1))
    await client('hot')
    const st = await sse(`${http}/inspect/events/rooms`)
    await until(() => st.of<RoomRow[]>('rooms').some((rows) => rows.some((r) => r.name === 'cold' && r.where === 'stored') && rows.some((r) => r.name === 'hot' && r.where === 'live' && r.clients === 1)))
  })
})
