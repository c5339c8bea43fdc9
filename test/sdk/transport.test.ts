import { describe, expect, it } from 'vitest'
import { until } from '../helpers.js'
import { startServer } from '../helpers.js'
import { defaultPlugins } from '../../plugins/index.js'
import { Refusal, type YroomPlugin } from '../../server/index.js'
import type { StatusEvent } from '../../src/index.js'
import { Game } from './models.js'
import { join, roomName, sdkServer } from './util.js'
import { backendCases } from '../backends.js'

/** Counts the document updates the server receives, per connection. */
function updateCounter(): { plugin: YroomPlugin; count: Map<number, number> } {
  const count = new Map<number, number>()
  return {
    count,
    plugin: {
      name: 'count-updates',
      beforeUpdate({ connection }) {
        count.set(connection.id, (count.get(connection.id) ?? 0) + 1)
      },
    },
  }
}

describe('sdk: frame batching', () => {
  it('all local changes within one frame reach the server as ONE merged update', async () => {
    const counter = updateCounter()
    const s = await sdkServer({ plugins: [...defaultPlugins(), counter.plugin] })
    const name = roomName()
    const a = await join(s.url, name, { model: Game, datastoreFrameDuration: 0.5 })
    const b = await join(s.url, name, { model: Game })
    const received = () => [...counter.count.values()].reduce((x, y) => x + y, 0)
    const before = received()
    const framesBefore = a.framesSent
    const root = a.datastore.root
    // 60 separate transactions over several macrotasks, all inside one 500 ms frame.
    for (let i = 1; i <= 20; i++) root.round = i
    await new Promise((r) => setImmediate(r))
    for (let i = 0; i < 20; i++) root.players.add({ name: `p${i}` })
    await new Promise((r) => setImmediate(r))
    for (let i = 0; i < 20; i++) root.notes.insert(0, 'x')
    expect(a.framesSent).toBe(framesBefore) // nothing sent yet
    await until(() => b.datastore.root.players.size === 20 && b.datastore.root.notes.length === 20 && b.datastore.root.round === 20)
    expect(a.framesSent).toBe(framesBefore + 1)
    expect(received() - before).toBe(1)
  })

  it('flush() sends the pending frame at once', async () => {
    const counter = updateCounter()
    const s = await sdkServer({ plugins: [...defaultPlugins(), counter.plugin] })
    const name = roomName()
    const a = await join(s.url, name, { model: Game, datastoreFrameDuration: 60 }) // a frame longer than the test
    const b = await join(s.url, name, { model: Game })
    const frames: number[] = []
    a.on('frame', (bytes) => frames.push(bytes))
    a.datastore.root.title = 'one'
    a.datastore.root.round = 1
    a.flush()
    expect(frames).toHaveLength(1)
    await until(() => b.datastore.root.title === 'one' && b.datastore.root.round === 1)
    a.datastore.root.title = 'two'
    a.flush()
    await until(() => b.datastore.root.title === 'two')
    expect(frames).toHaveLength(2)
  })
})

describe('sdk: connection', () => {
  it('reports connection states with reasons; disconnect() stops reconnecting', async () => {
    const s = await sdkServer()
    const a = await join(s.url, roomName(), { model: Game })
    const states: StatusEvent[] = []
    a.on('status', (e) => states.push(e))
    expect(a.status).toBe('connected')
    expect(a.welcome?.clientID).toBe(a.clientID)
    a.disconnect()
    expect(states).toEqual([expect.objectContaining({ status: 'disconnected', willReconnect: false })])
    a.connect()
    await a.whenSynced()
    expect(states.map((e) => e.status)).toEqual(['disconnected', 'connecting', 'connected'])
  })

  it('a refused token closes with the server code and reason, and does not retry', async () => {
    const s = await sdkServer({
      authenticate: ({ token }) => {
        if (token !== 'good') throw new Refusal('unauthorized', 'bad token')
        return { id: 'user', anonymous: false }
      },
    })
    const bad = await join(s.url, roomName(), { model: Game, token: 'nope', connect: false })
    const closed = new Promise<StatusEvent>((resolve) => bad.on('status', (e) => e.status === 'closed' && resolve(e)))
    bad.connect()
    const e = await closed
    expect(e).toMatchObject({ status: 'closed', code: 4401, reason: 'bad token', willReconnect: false })
    const good = await join(s.url, roomName(), { model: Game, token: 'good' })
    expect(good.synced).toBe(true)
  })

  it.each(backendCases)('reconnects after a server restart; offline edits on both sides are merged (%s)', async (_name, backend) => {
    const { data: dir, cleanup } = await backend.data()
    try {
      let server = await startServer({ plugins: defaultPlugins(), storage: dir })
      const port = server.port
      const name = roomName()
      const a = await join(server.url, name, { model: Game })
      const b = await join(server.url, name, { model: Game })
      a.datastore.root.title = 'before restart'
      await until(() => b.datastore.root.title === 'before restart')

      const down = Promise.all([a, b].map((r) => new Promise<void>((res) => r.on('status', (e) => e.status === 'disconnected' && res()))))
      await server.close()
      await down
      // Offline: both keep editing.
      a.datastore.root.round = 7
      a.datastore.root.players.add({ name: 'offline-a' })
      b.datastore.root.notes.insert(0, 'offline-b')
      b.datastore.root.slots.set(1, { label: 'offline-b' })
      expect(a.synced).toBe(false)

      server = await startServer({ plugins: defaultPlugins(), storage: dir, port })
      try {
        await Promise.all([a.whenSynced(), b.whenSynced()])
        for (const r of [a, b]) {
          await until(() => {
            const root = r.datastore.root
            return (
              root.title === 'before restart' &&
              root.round === 7 &&
              root.players.size === 1 &&
              root.notes.toString() === 'offline-b' &&
              root.slots.get(1)?.label === 'offline-b'
            )
          })
        }
        const json = server.server.rooms.get(name)!.doc.getMap('root').toJSON()
        expect(json.round).toBe(7)
        expect(json.notes).toBe('offline-b')
      } finally {
        a.destroy()
        b.destroy()
        await server.close()
      }
    } finally {
      await cleanup()
    }
  })
})
