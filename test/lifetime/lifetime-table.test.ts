/**
 * The README's lifetime table ("Lifetime: what survives what"), one test per row, each for a
 * root model (`doc.getMap('m')` carrying a `$meta`) and a nested model
 * (`doc.getMap('models').get('m')`). Every test walks the row's columns in order: owner
 * leaves, last client leaves, room shutdown (idle unload), server restart / crash.
 *
 * Real servers on real sockets, stock y-websocket clients. "Crash" is a kill -9 of a server
 * in a child process; "restart" is a graceful close and a new server on the same storage
 * (a LevelDB directory, a PostgreSQL database: test/backends.ts). A root model cannot be removed from a Y.Doc: "deleted" means cleared (every
 * key, `$meta` included), see the README.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { dirname, join as joinPath } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import * as Y from 'yjs'
import { defaultPlugins } from '../../plugins/index.js'
import type { AuthenticateHook, ServerOptions } from '../../server/index.js'
import { connectProvider, startServer, until, type ProviderClient, type TestServer } from '../helpers.js'
import { backendCases, type Backend } from '../backends.js'

const ROOT = joinPath(dirname(fileURLToPath(import.meta.url)), '..', '..')

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

/** A `token` query parameter authenticates as that user; without one the principal is anonymous (the default). */
let anonymousCounter = 0
const authenticate: AuthenticateHook = ({ token }) => (token ? { id: token, anonymous: false } : { id: `anonymous:t${++anonymousCounter}`, anonymous: true })

interface ServerSetup {
  storage?: string
  reconnectGraceMs?: number
  idleShutdownMs?: number
}

async function server({ storage = ':memory:', reconnectGraceMs = 0, idleShutdownMs = 30_000 }: ServerSetup = {}): Promise<TestServer> {
  const options: ServerOptions = { storage, plugins: defaultPlugins({ reconnectGraceMs }), tickMs: 5, idleShutdownMs, authenticate }
  const s = await startServer(options)
  let closed = false
  cleanups.push(() => (closed ? undefined : s.close()))
  return {
    ...s,
    close: async () => {
      closed = true
      await s.close()
    },
  }
}

/**
 * A server in its own process (same options as `server()`), so that a test can kill -9 it.
 * Resolves once it listens.
 */
async function crashableServer(dir: string): Promise<{ url: string; crash(): Promise<void> }> {
  const script = `
    const { createServer } = await import(${JSON.stringify(pathToFileURL(joinPath(ROOT, 'server/index.ts')).href)})
    const { defaultPlugins } = await import(${JSON.stringify(pathToFileURL(joinPath(ROOT, 'plugins/index.ts')).href)})
    let n = 0
    const s = await createServer({
      host: '127.0.0.1', port: 0, storage: process.env.YROOM_TEST_DATA, logger: 'silent', processMetrics: false,
      tickMs: 5, plugins: defaultPlugins(),
      authenticate: ({ token }) => (token ? { id: token, anonymous: false } : { id: 'anonymous:c' + ++n, anonymous: true }),
    })
    console.log('listening ' + (await s.listen()))
  `
  const proc = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: ROOT,
    env: { ...process.env, YROOM_TEST_DATA: dir },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()))
  cleanups.push(() => {
    proc.kill('SIGKILL')
    return exited
  })
  let stderr = ''
  proc.stderr!.on('data', (d) => (stderr += d))
  const port = await new Promise<number>((resolve, reject) => {
    let out = ''
    proc.stdout!.on('data', (d) => {
      out += d
      const m = /listening (\d+)/.exec(out)
      if (m) resolve(Number(m[1]))
    })
    void exited.then(() => reject(new Error(`server exited before listening: ${stderr}`)))
  })
  return {
    url: `ws://127.0.0.1:${port}`,
    crash() {
      proc.kill('SIGKILL')
      return exited
    },
  }
}

async function join(url: string, room: string, token?: string): Promise<ProviderClient> {
  const c = await connectProvider(url, room, { params: token ? { token } : {} })
  cleanups.push(() => c.destroy())
  return c
}

/** Fresh storage of `backend`: its storage / --data value, removed after the test. */
async function tmp(backend: Backend): Promise<string> {
  const d = await backend.data()
  cleanups.push(d.cleanup) // cleanups run in reverse: after the servers on it stopped
  return d.data
}

/** Where the model under test lives. */
interface Flags {
  owned: boolean
  ephemeral: boolean
  prevent?: boolean
}

interface Kind {
  name: string
  /** The model, or undefined when it does not exist (a root model exists while it has content). */
  model(doc: Y.Doc): Y.Map<unknown> | undefined
  /** Creates the model (with its $meta and a property v = 'created') in one transaction. */
  create(doc: Y.Doc, flags: Flags): void
}

function fillMeta(doc: Y.Doc, m: Y.Map<unknown>, { owned, ephemeral, prevent = false }: Flags): void {
  const meta = new Y.Map<unknown>()
  meta.set('ownerID', owned ? doc.clientID : -1)
  meta.set('destroyWhenOwnerOrLastClientLeaves', ephemeral)
  if (prevent) meta.set('preventOwnershipTakeover', true)
  m.set('$meta', meta)
  m.set('v', 'created')
}

const KINDS: Kind[] = [
  {
    name: 'root model',
    model: (doc) => {
      const m = doc.getMap<unknown>('m')
      return m.size > 0 ? m : undefined
    },
    create: (doc, flags) => doc.transact(() => fillMeta(doc, doc.getMap('m'), flags)),
  },
  {
    name: 'nested model',
    model: (doc) => doc.getMap('models').get('m') as Y.Map<unknown> | undefined,
    create: (doc, flags) =>
      doc.transact(() => {
        const m = new Y.Map<unknown>()
        fillMeta(doc, m, flags)
        doc.getMap('models').set('m', m)
      }),
  },
]

/** Every kind of model on every backend (restart and crash use the backend's storage). */
const CASES = KINDS.flatMap((kind) => backendCases.map(([storage, backend]) => ({ ...kind, storage, backend })))

describe.each(CASES)('lifetime table (README), $name, $storage storage', ({ backend, ...kind }) => {
  /** The model exists and still holds what its creator wrote (a deleted root model is empty). */
  const present = (doc: Y.Doc) => kind.model(doc)?.get('v') !== undefined
  const ownerOf = (doc: Y.Doc) => (kind.model(doc)?.get('$meta') as Y.Map<unknown> | undefined)?.get('ownerID')
  const serverDoc = (s: TestServer, room: string) => s.server.rooms.get(room)!.doc
  /** What storage holds for an unloaded room: [present, ownerID]. */
  const stored = (s: TestServer, room: string) => s.server.rooms.read(room, (doc) => [present(doc), ownerOf(doc)] as const)
  /** Waits until the room's onDisconnect hooks for the leaves so far have run (they run before the next timer). */
  const clientsLeft = (s: TestServer, room: string, n: number) => until(() => s.server.rooms.get(room)?.connections.size === n, { message: `${n} clients in ${room}` })
  const unloaded = (s: TestServer, room: string) => until(() => s.server.rooms.get(room) === undefined, { message: `${room} unloaded` })

  /** Crash column: kill -9 with the model stored, start again; a fresh client's view at every update. */
  async function afterCrash(flags: Flags, token?: string) {
    const dir = await tmp(backend)
    let child = await crashableServer(dir)
    const creator = await join(child.url, 'crash', token)
    kind.create(creator.doc, flags)
    const watcher = await join(child.url, 'crash')
    await until(() => present(watcher.doc), { message: 'model reached a second client' })
    const creatorID = creator.doc.clientID
    await child.crash()
    creator.destroy()
    watcher.destroy()
    child = await crashableServer(dir)
    const fresh = new Y.Doc()
    /** The model as the fresh client saw it after each update: present, and its owner. */
    const seen: Array<{ present: boolean; owner: unknown }> = []
    fresh.on('update', () => seen.push({ present: present(fresh), owner: ownerOf(fresh) }))
    const c = await connectProvider(child.url, 'crash', { doc: fresh, params: token ? { token } : {} })
    cleanups.push(() => c.destroy())
    return { doc: fresh, seen, creatorID, url: child.url }
  }

  it('destroyWhenOwnerOrLastClientLeaves, owned: deleted when the owner leaves, when it was the last client, at room shutdown, on load after a crash', async () => {
    // Owner leaves, another client stays: deleted, and the other client sees it go.
    const s = await server()
    const owner = await join(s.url, 'leave')
    const other = await join(s.url, 'leave')
    kind.create(owner.doc, { owned: true, ephemeral: true })
    await until(() => present(other.doc), { message: 'model reached the other client' })
    owner.destroy()
    await until(() => !present(other.doc), { message: 'deleted for the remaining client when the owner left' })
    expect(present(serverDoc(s, 'leave'))).toBe(false)

    // The owner is the last client: deleted.
    const alone = await join(s.url, 'last')
    kind.create(alone.doc, { owned: true, ephemeral: true })
    await until(() => present(serverDoc(s, 'last')), { message: 'model reached the server' })
    alone.destroy()
    await clientsLeft(s, 'last', 0)
    expect(present(serverDoc(s, 'last'))).toBe(false)

    // Room shutdown: the owner's leave is not final yet (grace period) when the room unloads.
    const g = await server({ reconnectGraceMs: 60_000, idleShutdownMs: 50 })
    const late = await join(g.url, 'shutdown')
    kind.create(late.doc, { owned: true, ephemeral: true })
    await until(() => present(serverDoc(g, 'shutdown')), { message: 'model reached the server' })
    late.destroy()
    await clientsLeft(g, 'shutdown', 0)
    expect(present(serverDoc(g, 'shutdown'))).toBe(true) // within the grace period
    await unloaded(g, 'shutdown')
    expect((await stored(g, 'shutdown'))[0]).toBe(false)

    // Crash: deleted on load, before any client sees it.
    const crash = await afterCrash({ owned: true, ephemeral: true })
    expect(present(crash.doc)).toBe(false)
    expect(crash.seen.some((v) => v.present)).toBe(false)
  })

  it('destroyWhenOwnerOrLastClientLeaves, unowned: stays when its creator leaves, deleted when the last client leaves, at room shutdown, on load after a crash', async () => {
    const s = await server()
    const creator = await join(s.url, 'leave')
    const other = await join(s.url, 'leave')
    kind.create(creator.doc, { owned: false, ephemeral: true })
    await until(() => present(other.doc), { message: 'model reached the other client' })
    creator.destroy()
    await clientsLeft(s, 'leave', 1)
    expect(present(serverDoc(s, 'leave'))).toBe(true)
    expect(present(other.doc)).toBe(true)
    const room = s.server.rooms.get('leave')!
    other.destroy()
    await clientsLeft(s, 'leave', 0)
    expect(present(room.doc)).toBe(false)

    const g = await server({ reconnectGraceMs: 60_000, idleShutdownMs: 50 })
    const last = await join(g.url, 'shutdown')
    kind.create(last.doc, { owned: false, ephemeral: true })
    await until(() => present(serverDoc(g, 'shutdown')), { message: 'model reached the server' })
    last.destroy()
    await clientsLeft(g, 'shutdown', 0)
    expect(present(serverDoc(g, 'shutdown'))).toBe(true) // within the grace period
    await unloaded(g, 'shutdown')
    expect((await stored(g, 'shutdown'))[0]).toBe(false)

    const crash = await afterCrash({ owned: false, ephemeral: true })
    expect(present(crash.doc)).toBe(false)
    expect(crash.seen.some((v) => v.present)).toBe(false)
  })

  it('persistent, authenticated owner: stays owned through leaves, shutdown, restart and crash; only the same principal edits or re-takes it', async () => {
    const dir = await tmp(backend)
    let s = await server({ storage: dir, idleShutdownMs: 50 })
    const alice = await join(s.url, 'r', 'alice')
    const bob = await join(s.url, 'r', 'bob')
    // preventOwnershipTakeover: without it any client may take an owned model over (rule 3).
    kind.create(alice.doc, { owned: true, ephemeral: false, prevent: true })
    const aliceID = alice.doc.clientID
    await until(() => present(bob.doc), { message: 'model reached bob' })

    // Owner leaves: stays, still owned; another principal's claim and edit are rolled back.
    alice.destroy()
    await clientsLeft(s, 'r', 1)
    expect(ownerOf(serverDoc(s, 'r'))).toBe(aliceID)
    bob.doc.transact(() => {
      ;(kind.model(bob.doc)!.get('$meta') as Y.Map<unknown>).set('ownerID', bob.doc.clientID)
      kind.model(bob.doc)!.set('v', 'bob was here')
    })
    await until(() => kind.model(bob.doc)?.get('v') === 'created' && ownerOf(bob.doc) === aliceID, { message: "bob's claim and edit rolled back" })

    // Last client leaves: stays, still owned.
    const room = s.server.rooms.get('r')!
    bob.destroy()
    await clientsLeft(s, 'r', 0)
    expect(present(room.doc)).toBe(true)
    expect(ownerOf(room.doc)).toBe(aliceID)

    // Room shutdown: stays, still owned.
    await unloaded(s, 'r')
    expect(await stored(s, 'r')).toEqual([true, aliceID])

    // Restart: stays, still owned; alice re-takes it with a new client id.
    await s.close()
    s = await server({ storage: dir, idleShutdownMs: 50 })
    const bob2 = await join(s.url, 'r', 'bob')
    expect(ownerOf(bob2.doc)).toBe(aliceID)
    const alice2 = await join(s.url, 'r', 'alice')
    expect(alice2.doc.clientID).not.toBe(aliceID)
    alice2.doc.transact(() => {
      ;(kind.model(alice2.doc)!.get('$meta') as Y.Map<unknown>).set('ownerID', alice2.doc.clientID)
      kind.model(alice2.doc)!.set('v', 'alice again')
    })
    await until(() => kind.model(bob2.doc)?.get('v') === 'alice again', { message: "alice's re-take reached bob" })
    expect(ownerOf(serverDoc(s, 'r'))).toBe(alice2.doc.clientID)

    // Crash: stays, still owned.
    const crash = await afterCrash({ owned: true, ephemeral: false, prevent: true }, 'alice')
    expect(present(crash.doc)).toBe(true)
    expect(ownerOf(crash.doc)).toBe(crash.creatorID)
  })

  it('persistent, anonymous owner: stays owned through leaves, released (-1) at room shutdown, unowned after a restart and after a crash', async () => {
    const dir = await tmp(backend)
    let s = await server({ storage: dir, idleShutdownMs: 200 })
    const owner = await join(s.url, 'r')
    const other = await join(s.url, 'r')
    kind.create(owner.doc, { owned: true, ephemeral: false })
    const ownerID = owner.doc.clientID
    await until(() => present(other.doc), { message: 'model reached the other client' })

    // Owner leaves: stays, still owned; another client's edit is rolled back.
    owner.destroy()
    await clientsLeft(s, 'r', 1)
    expect(ownerOf(serverDoc(s, 'r'))).toBe(ownerID)
    kind.model(other.doc)!.set('v', 'other was here')
    await until(() => kind.model(other.doc)?.get('v') === 'created', { message: "the other client's edit rolled back" })

    // Last client leaves: stays, still owned while the room is loaded.
    const room = s.server.rooms.get('r')!
    other.destroy()
    await clientsLeft(s, 'r', 0)
    expect(present(room.doc)).toBe(true)
    expect(ownerOf(room.doc)).toBe(ownerID)

    // Room shutdown: stays, ownership released.
    await unloaded(s, 'r')
    expect(await stored(s, 'r')).toEqual([true, -1])
    const back = await join(s.url, 'r')
    expect(ownerOf(back.doc)).toBe(-1)
    back.destroy()

    // Graceful restart with the owner still connected: stays, unowned; anyone may write it.
    const owner2 = await join(s.url, 'restart')
    kind.create(owner2.doc, { owned: true, ephemeral: false })
    await until(() => present(serverDoc(s, 'restart')), { message: 'model reached the server' })
    await s.close()
    owner2.destroy()
    s = await server({ storage: dir, idleShutdownMs: 200 })
    const writer = await join(s.url, 'restart')
    const watcher = await join(s.url, 'restart')
    expect(present(writer.doc)).toBe(true)
    expect(ownerOf(writer.doc)).toBe(-1)
    kind.model(writer.doc)!.set('v', 'anyone may write')
    await until(() => kind.model(watcher.doc)?.get('v') === 'anyone may write', { message: 'the write of a new client accepted' })

    // Crash: stays, unowned (released on load, before any client sees it).
    const crash = await afterCrash({ owned: true, ephemeral: false })
    expect(present(crash.doc)).toBe(true)
    expect(ownerOf(crash.doc)).toBe(-1)
    expect(crash.seen.some((v) => v.owner === crash.creatorID)).toBe(false)
    const crashWatcher = await join(crash.url, 'crash')
    kind.model(crash.doc)!.set('v', 'anyone may write')
    await until(() => kind.model(crashWatcher.doc)?.get('v') === 'anyone may write', { message: 'the write of a new client accepted after the crash' })
  })
})
