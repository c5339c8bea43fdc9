import * as Y from 'yjs'
import { describe, expect, it } from 'vitest'
import { WebSocketServer } from 'ws'
import { until } from '../helpers.js'
import { connect, type StatusEvent } from '../../src/index.js'
import { Game, Player } from './models.js'
import { join, roomName, sdkServer } from './util.js'

describe('sdk: room', () => {
  it('awareness states reach the other clients', async () => {
    const s = await sdkServer()
    const name = roomName()
    const a = await join(s.url, name)
    const b = await join(s.url, name)
    a.awareness.setLocalStateField('user', { name: 'ann' })
    await until(() => (b.awareness.getStates().get(a.clientID) as { user?: { name: string } } | undefined)?.user?.name === 'ann')
  })

  it('a read-only connection is told so and its writes roll back', async () => {
    const s = await sdkServer({
      authenticate: ({ token }) => ({ id: token ?? 'anon', anonymous: false, readOnly: token === 'viewer' }),
    })
    const name = roomName()
    const editor = await join(s.url, name, { model: Game, token: 'editor' })
    const viewer = await join(s.url, name, { model: Game, token: 'viewer' })
    editor.datastore.root.title = 'by editor'
    await until(() => viewer.datastore.root.title === 'by editor')
    const denied: string[] = []
    viewer.on('permission-denied', (r) => denied.push(r))
    const sources: string[] = []
    viewer.datastore.root.on('titleDidChange', (e) => sources.push(`${e.value}:${e.source}`))
    viewer.datastore.root.title = 'by viewer'
    await until(() => viewer.datastore.root.title === 'by editor' && denied.length === 1)
    expect(sources).toEqual(['by viewer:local', 'by editor:rollback'])
    expect(editor.datastore.root.title).toBe('by editor')
  })

  it('paths, rootOf, toJSON and the instance set events', async () => {
    const s = await sdkServer()
    const name = roomName()
    const a = await join(s.url, name, { model: Game })
    const b = await join(s.url, name, { model: Game })
    expect(a.datastore.root.path).toEqual(['root'])
    expect(a.datastore.root.tree.mid.leaf.path).toEqual(['root', 'tree', 'mid', 'leaf'])
    const other = a.datastore.rootOf(Player, 'solo')
    other.name = 'solo player'
    expect(a.doc.getMap('solo').get('name')).toBe('solo player')
    expect(other.toJSON()).toEqual({ name: 'solo player' })
    const added: string[] = []
    b.datastore.instances.on('modelAdded', (e) => added.push(e.model.yMap?.get('name') as string))
    const p = a.datastore.instantiate(Player, { init: { name: 'inst' } })
    expect(p.path).toEqual(['instances', a.datastore.instances.keyOf(p)!])
    await until(() => added.length === 1)
    expect(added).toEqual(['inst'])
    // Elements of the instance set come back typed by their $meta.model.
    const seen = [...b.datastore.instances][0] as unknown as { name: string }
    expect(seen.name).toBe('inst')
  })

  it('the watchdog reconnects when the server goes silent', async () => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 })
    await new Promise<void>((resolve) => wss.once('listening', () => resolve()))
    let connections = 0
    wss.on('connection', () => connections++) // accepts, then never says a word
    const port = (wss.address() as { port: number }).port
    const r = connect({ url: `ws://127.0.0.1:${port}`, room: roomName(), watchdogMs: 150, reconnect: { minDelayMs: 10, maxDelayMs: 20 } })
    const closes: StatusEvent[] = []
    r.on('status', (e) => e.status === 'disconnected' && closes.push(e))
    try {
      await until(() => connections >= 2)
      expect(closes[0]).toMatchObject({ code: 4000, willReconnect: true })
      expect(closes[0].reason).toMatch(/no message/)
    } finally {
      r.destroy()
      for (const c of wss.clients) c.terminate()
      await new Promise<void>((resolve) => wss.close(() => resolve()))
    }
  })
})

describe('sdk: offline persistence option', () => {
  it('a persistence that fails reports offline-unavailable and connects anyway', async () => {
    const s = await sdkServer()
    class Broken {
      whenSynced = Promise.resolve()
      constructor() {
        throw new Error('indexedDB is not defined')
      }
      destroy() {}
    }
    const r = connect({ url: s.url, room: roomName(), offline: { persistence: Broken } })
    const errors: string[] = []
    r.on('error', (e) => errors.push(e.code))
    await r.whenSynced()
    r.destroy()
    expect(errors).toEqual(['offline-unavailable'])
  })

  it('stored state is loaded before the room connects, then synced to the server', async () => {
    const s = await sdkServer()
    const stored = new Y.Doc()
    stored.getMap('notes').set('written', 'offline')
    const opened: string[] = []
    class Stored {
      whenSynced: Promise<void>
      constructor(name: string, doc: Y.Doc) {
        opened.push(name)
        this.whenSynced = Promise.resolve().then(() => Y.applyUpdate(doc, Y.encodeStateAsUpdate(stored)))
      }
      destroy() {}
    }
    const name = roomName()
    const r = connect({ url: s.url, room: name, offline: { persistence: Stored } })
    const statusAtLoad: string[] = []
    r.doc.getMap('notes').observe(() => statusAtLoad.push(r.status))
    await r.whenSynced()
    expect(opened).toEqual([`yroom:${name}`])
    expect(statusAtLoad[0]).not.toBe('connected')
    await until(() => (s.server.rooms.get(name)?.doc.getMap('notes').get('written') as string) === 'offline')
    r.destroy()
  })
})
