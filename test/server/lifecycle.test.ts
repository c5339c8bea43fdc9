/** Room lifecycle: idle unload and reload, backend edits with rooms.edit, unload races; on every storage. */
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import WebSocket from 'ws'
import type { YroomPlugin } from '../../server/index.js'
import { applyStoredDocument, providerPool, startServer, until, type TestServer } from '../helpers.js'
import { storageCases } from '../backends.js'

let s: TestServer
const pool = providerPool(() => s.url)
const join = pool.join
const leave = pool.leave
afterEach(async () => {
  pool.destroyAll()
  await s?.close()
})

describe.each(storageCases)('idle unload, %s storage', (_name, storage) => {
  it('unloads a room idleShutdownMs after its last client leaves; the next join reloads it', async () => {
    const unloaded: string[] = []
    const probe: YroomPlugin = { name: 'probe', onUnload: (room) => void unloaded.push(room.name) }
    s = await startServer({ storage: await storage(), idleShutdownMs: 50, plugins: [probe] })
    const a = await join('idle')
    const b = await join('idle')
    a.doc.getMap('m').set('kept', 'across unload')
    await until(() => b.doc.getMap('m').get('kept') !== undefined)
    const first = s.server.rooms.get('idle')
    leave(a)
    await until(() => s.server.rooms.get('idle')?.connections.size === 1)
    expect(s.server.rooms.get('idle')).toBe(first) // one client left: still loaded
    leave(b)
    await until(() => !s.server.rooms.all.has('idle'), { message: 'room unloaded' })
    expect(unloaded).toEqual(['idle'])
    expect(await s.server.storage.size('idle')).toBe(1) // compacted on unload
    const metrics = await s.server.metrics.registry.getSingleMetricAsString('yroom_rooms_loaded')
    expect(metrics).toMatch(/yroom_rooms_loaded 0/)

    const c = await join('idle')
    expect(c.doc.getMap('m').get('kept')).toBe('across unload')
    expect(s.server.rooms.get('idle')).not.toBe(first)
  })

  it('a client that joins while the room unloads gets a freshly loaded room and loses nothing', async () => {
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    let unloading = false
    const slow: YroomPlugin = {
      name: 'slow-unload',
      async onUnload() {
        unloading = true
        await gate
      },
    }
    let authenticated = 0
    const authenticate = () => {
      authenticated++
      return { id: `user-${authenticated}`, anonymous: false }
    }
    s = await startServer({ storage: await storage(), idleShutdownMs: 20, tickMs: 5, plugins: [slow], authenticate })
    const a = await join('race')
    a.doc.getMap('m').set('a', 1)
    await until(() => s.server.rooms.get('race')?.doc.getMap('m').get('a') === 1)
    leave(a)
    await until(() => unloading, { message: 'unload started' })
    const bJoining = join('race') // joins while onUnload is still running
    await until(() => authenticated === 2, { message: 'second join authenticated' })
    // What follows authentication (open, attach) is promise continuations: let them run.
    for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r))
    release()
    const b = await bJoining
    expect(b.doc.getMap('m').get('a')).toBe(1)
    b.doc.getMap('m').set('b', 2)
    const c = await join('race')
    await until(() => c.doc.getMap('m').get('b') === 2, { message: 'write after the unload race reaches others' })
    const room = s.server.rooms.get('race')!
    expect(room.connections.size).toBe(2)
    expect(room.doc.getMap('m').toJSON()).toEqual({ a: 1, b: 2 })
  })
  it('a client that disconnects while waiting for an unload to finish leaves nothing behind', async () => {
    let releaseUnload!: () => void
    const unloadGate = new Promise<void>((r) => (releaseUnload = r))
    let releaseConnect!: () => void
    const connectGate = new Promise<void>((r) => (releaseConnect = r))
    let unloads = 0
    let connecting = 0
    const slow: YroomPlugin = {
      name: 'slow',
      async onConnect() {
        connecting++
        await connectGate
      },
      async onUnload() {
        unloads++
        await unloadGate
      },
    }
    s = await startServer({ storage: await storage(), idleShutdownMs: 60_000, plugins: [slow] })
    // The client is past authentication and waits in onConnect while the room starts to
    // unload; it then waits for the unload in attach, and disconnects there.
    const ws = new WebSocket(`${s.url}/zombie`)
    await until(() => connecting === 1, { message: 'client in onConnect' })
    const unloaded = s.server.rooms.unload('zombie')
    await until(() => unloads === 1, { message: 'unload started' })
    releaseConnect()
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r)) // into attach
    ws.terminate()
    await until(() => s.server.connections.size === 0, { message: 'socket closed on the server' })
    releaseUnload()
    await unloaded
    // The room was loaded again for the (gone) client, which must not stay in it.
    await until(() => s.server.rooms.get('zombie')?.connections.size === 0, { message: 'no zombie connection' })
  })
})

describe.each(storageCases)('rooms.edit, %s storage', (_name, storage) => {
  it('on a loaded room reaches live clients, is stored, and returns the callback’s result', async () => {
    s = await startServer({ storage: await storage(), tickMs: 20 })
    const a = await join('live')
    const result = await s.server.rooms.edit('live', (doc) => {
      doc.getMap('m').set('from', 'backend')
      return 'done'
    })
    expect(result).toBe('done')
    await until(() => a.doc.getMap('m').get('from') === 'backend', { message: 'edit reached the client' })
    const stored = await s.server.storage.load('live')
    const d = new Y.Doc()
    applyStoredDocument(d, stored)
    expect(d.getMap('m').get('from')).toBe('backend') // stored once edit() resolved
    // Server edits are authored under a server client id, never a client's.
    const room = s.server.rooms.get('live')!
    const authors = [...Y.decodeStateVector(Y.encodeStateVector(room.doc)).keys()]
    expect(authors.every((id) => room.serverClientIds.has(id))).toBe(true)
  })

  it('on an unloaded room is stored without loading it and is seen on the next load', async () => {
    s = await startServer({ storage: await storage(), idleShutdownMs: 20 })
    const a = await join('cold')
    a.doc.getMap('m').set('old', 1)
    await until(() => s.server.rooms.get('cold')?.doc.getMap('m').get('old') === 1)
    leave(a)
    await until(() => !s.server.rooms.all.has('cold'), { message: 'room unloaded' })
    const seenOld = await s.server.rooms.edit('cold', (doc) => {
      doc.getMap('m').set('new', 2)
      return doc.getMap('m').get('old')
    })
    expect(seenOld).toBe(1) // the callback sees the stored state
    expect(s.server.rooms.all.has('cold')).toBe(false)
    await s.server.rooms.edit('never-loaded', (doc) => doc.getArray('a').push(['created by backend']))
    expect(s.server.rooms.all.has('never-loaded')).toBe(false)

    const b = await join('cold')
    expect(b.doc.getMap('m').toJSON()).toEqual({ old: 1, new: 2 })
    const c = await join('never-loaded')
    expect(c.doc.getArray('a').toArray()).toEqual(['created by backend'])
  })

  it('rooms.read sees loaded and stored state alike', async () => {
    s = await startServer({ storage: await storage(), idleShutdownMs: 20 })
    await s.server.rooms.edit('r', (doc) => doc.getMap('m').set('k', 'v'))
    expect(await s.server.rooms.read('r', (doc) => doc.getMap('m').get('k'))).toBe('v')
    const a = await join('r')
    a.doc.getMap('m').set('k', 'live')
    await until(() => s.server.rooms.get('r')?.doc.getMap('m').get('k') === 'live')
    expect(await s.server.rooms.read('r', (doc) => doc.getMap('m').get('k'))).toBe('live')
  })
})
