/**
 * Backend actions on a live server (issue 21): the supported way is the actions plugin's
 * `run`, called in the server's own process, while clients are connected and on rooms that
 * are not loaded. Real server on every storage backend (test/backends.ts), real sockets.
 */
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import WebSocket from 'ws'
import { ActionRefused, connect, defineActions, type Room, type WebSocketConstructor } from '../../src/index.js'
import { actionsPlugin, createServer, defaultPlugins, type Migration, type YroomServer } from '../../server/index.js'
import { backendCases, type Backend } from '../backends.js'

const counterActions = defineActions(
  {
    increment: (d: { value: number }, by: number = 1) => void (d.value += by),
    withdraw: (d: { value: number }, n: number) => {
      if (d.value < n) throw new ActionRefused('insufficient', `${d.value} < ${n}`)
      d.value -= n
    },
  },
  { name: 'backend-counter', actionOnly: true },
)

const migrations: Migration[] = [
  {
    name: 'counter',
    up(doc: Y.Doc) {
      const counter = new Y.Map<unknown>()
      const meta = new Y.Map<unknown>()
      meta.set('ownerID', 0)
      meta.set('actions', counterActions.name)
      counter.set('$meta', meta)
      counter.set('value', 0)
      doc.getMap('models').set('counter', counter)
    },
  },
]

const PATH = ['models', 'counter']
const cleanup: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f()
})

/** Fresh storage of `backend` (its storage / --data value), removed after the test. */
async function storage(backend: Backend): Promise<string> {
  const d = await backend.data()
  cleanup.push(d.cleanup) // cleanups run in reverse: after the servers on it stopped
  return d.data
}

async function start(dir: string) {
  const actions = actionsPlugin({ sets: [counterActions], migrations })
  const server: YroomServer = await createServer({
    host: '127.0.0.1',
    port: 0,
    storage: dir,
    logger: 'silent',
    processMetrics: false,
    idleShutdownMs: 50,
    plugins: [...defaultPlugins(), actions],
  })
  const url = `ws://127.0.0.1:${await server.listen()}`
  return { server, actions, url }
}

function client(url: string, room: string): Room {
  const r = connect({ url, room, actions: [counterActions], WebSocket: WebSocket as unknown as WebSocketConstructor })
  cleanup.push(() => r.destroy())
  return r
}

const counterOf = (r: Room) => r.doc.getMap('models').get('counter') as Y.Map<unknown>

async function until(check: () => boolean, ms = 5000): Promise<void> {
  const t0 = Date.now()
  while (!check()) {
    if (Date.now() - t0 > ms) throw new Error('timed out')
    await new Promise((r) => setTimeout(r, 10))
  }
}

describe.each(backendCases)('backend actions on a running server (actionsPlugin().run in process), %s storage', (_name, backend) => {
  it('runs while clients patch the same model: every action applies exactly once', async () => {
    const dir = await storage(backend)
    const { server, actions, url } = await start(dir)
    cleanup.push(() => server.close())
    const a = client(url, 'shop')
    await a.whenSynced()
    const seen: number[] = []
    a.updated(counterOf(a), (s) => seen.push(s.value as number))
    await Promise.all([
      ...Array.from({ length: 20 }, () => a.patch(counterOf(a), 'increment', 1)),
      ...Array.from({ length: 20 }, () => actions.run(server.rooms, 'shop', PATH, 'increment', [100])),
    ])
    await until(() => counterOf(a).get('value') === 2020)
    expect(await server.rooms.read('shop', (doc) => (doc.getMap('models').get('counter') as Y.Map<unknown>).get('value'))).toBe(2020)
    expect(seen.at(-1)).toBe(2020)
    // Refusals reach backend code as ActionRefused, and change nothing.
    await expect(actions.run(server.rooms, 'shop', PATH, 'withdraw', [5000])).rejects.toMatchObject({ reason: 'insufficient' })
    await expect(actions.run(server.rooms, 'shop', PATH, 'nope')).rejects.toBeInstanceOf(ActionRefused)
    expect(counterOf(a).get('value')).toBe(2020)
  })

  it('runs on a room that is not loaded; a later client and a restarted server see it', async () => {
    const dir = await storage(backend)
    let { server, actions, url } = await start(dir)
    // Create the room (its migration runs on load), then let it unload.
    const first = client(url, 'cold')
    await first.whenSynced()
    first.destroy()
    await until(() => server.rooms.get('cold') === undefined)
    const out = await actions.run(server.rooms, 'cold', PATH, 'increment', [7])
    expect(out).toMatchObject({ data: { value: 7 }, duplicate: false })
    expect(server.rooms.get('cold')).toBeUndefined()
    const later = client(url, 'cold')
    await later.whenSynced()
    expect(counterOf(later).get('value')).toBe(7)
    later.destroy()
    await server.close()
    ;({ server, actions, url } = await start(dir))
    cleanup.push(() => server.close())
    const again = client(url, 'cold')
    await again.whenSynced()
    expect(counterOf(again).get('value')).toBe(7)
    await expect(again.patch(counterOf(again), 'increment', 1)).resolves.toMatchObject({ value: 8 })
  })
})
