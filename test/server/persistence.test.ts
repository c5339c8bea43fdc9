/** Persistence across server restarts, kill -9, SIGTERM flush, idle unload: every backend. */
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { MESSAGE_AWARENESS, MESSAGE_QUERY_AWARENESS } from '../../src/shared/protocol/message-types.js'
import { connectProvider, RawClient, startServer, storedDoc, until, type ProviderClient, type TestServer } from '../helpers.js'
import { killAll, startCli } from './fixtures/cli.js'
import { backendCases, openStorage, type Backend } from '../backends.js'
import type { Storage } from '../../server/index.js'

const stores: Array<{ cleanup(): Promise<void> }> = []
const clients: Array<{ destroy(): void }> = []
const servers: TestServer[] = []
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy()
  for (const s of servers.splice(0)) await s.close()
  await killAll()
})
afterAll(async () => {
  for (const d of stores.splice(0)) await d.cleanup()
})

/** Fresh storage of `backend`: its `storage` option / `--data` value. */
async function dir(backend: Backend): Promise<string> {
  const d = await backend.data()
  stores.push(d)
  return d.data
}

async function join(url: string, room: string): Promise<ProviderClient> {
  const c = await connectProvider(url, room)
  clients.push(c)
  return c
}

async function server(path: string, options = {}): Promise<TestServer> {
  const s = await startServer({ storage: path, ...options })
  servers.push(s)
  return s
}

async function closeServer(s: TestServer): Promise<void> {
  servers.splice(servers.indexOf(s), 1)
  await s.close()
}

describe.each(backendCases)('%s persistence (in process)', (_name, backend) => {
  it('data survives closing the server and opening a new one on the same directory', async () => {
    const path = await dir(backend)
    const s1 = await server(path)
    const a = await join(s1.url, 'doc')
    a.doc.getMap('m').set('title', 'hello')
    a.doc.getText('body').insert(0, 'some text')
    for (let i = 0; i < 50; i++) a.doc.getArray('list').push([i])
    const b = await join(s1.url, 'doc')
    await until(() => b.doc.getArray('list').length === 50)
    a.destroy()
    b.destroy()
    await closeServer(s1)

    const s2 = await server(path)
    const c = await join(s2.url, 'doc')
    expect(c.doc.getMap('m').get('title')).toBe('hello')
    expect(c.doc.getText('body').toString()).toBe('some text')
    expect(c.doc.getArray('list').toArray()).toEqual([...Array(50).keys()])
    // Closing compacted the log into one entry.
    expect(await s2.server.storage.size('doc')).toBe(1)
    expect(await s2.server.storage.list()).toEqual(['doc'])
  })

  it('an unchanged room writes nothing when it unloads; a changed one is compacted', async () => {
    const inner = await openStorage(await dir(backend))
    const writes: string[] = []
    // Every write the server makes, by method (reads pass through).
    const storage = new Proxy(inner, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver) as unknown
        if (typeof v !== 'function') return v
        return (...args: unknown[]) => {
          if (prop === 'append' || prop === 'compact' || prop === 'setMeta' || prop === 'delete') writes.push(String(prop))
          return (v as (...a: unknown[]) => unknown).apply(target, args)
        }
      },
    }) as Storage
    const s = await server('', { storage, idleShutdownMs: 20 })
    const a = await join(s.url, 'still')
    for (let i = 0; i < 5; i++) a.doc.getArray('list').push([i])
    await until(() => writes.includes('append'))
    a.destroy()
    await until(() => s.server.rooms.get('still') === undefined, { message: 'first unload' })
    expect(writes).toContain('compact')
    writes.length = 0
    // Opened, read, left: the stored log is already one entry, nothing changed.
    const b = await join(s.url, 'still')
    expect(b.doc.getArray('list').length).toBe(5)
    b.destroy()
    await until(() => s.server.rooms.get('still') === undefined, { message: 'second unload' })
    expect(writes).toEqual([])
  })

  /** Pushes `n` numbers, each its own log entry (tickMs 0; each waits to be applied). */
  async function pushEach(s: TestServer, a: ProviderClient, room: string, from: number, n: number): Promise<void> {
    for (let i = from; i < from + n; i++) {
      a.doc.getArray('n').push([i])
      await until(() => s.server.rooms.get(room)!.doc.getArray('n').length === i + 1)
    }
    await s.server.rooms.get(room)!.flush()
  }

  it('the log is compacted past compactAfterEntries while the room is live', async () => {
    const path = await dir(backend)
    const s = await server(path, { compactAfterEntries: 10, compactQuietMs: 0, tickMs: 0 })
    const a = await join(s.url, 'big')
    await pushEach(s, a, 'big', 0, 25)
    expect(await s.server.storage.size('big')).toBeLessThanOrEqual(11)
    const stored = await s.server.storage.load('big')
    // The compacted snapshot is stored in Yjs V2, the entries after it as they came (V1).
    expect(stored.v2?.[0]).toBe(true)
    expect(storedDoc(stored).getArray('n').length).toBe(25)
  })

  it('a room being edited past half of compactAfterEntries waits for a pause; past the limit it compacts at once', async () => {
    const path = await dir(backend)
    // No pause in this test is long enough: only the log's length compacts it.
    const s = await server(path, { compactAfterEntries: 10, compactQuietMs: 60_000, tickMs: 0 })
    const a = await join(s.url, 'busy')
    await pushEach(s, a, 'busy', 0, 8)
    expect(await s.server.storage.size('busy')).toBe(8)
    await pushEach(s, a, 'busy', 8, 5)
    // Compacted at the 11th entry, two entries since.
    expect(await s.server.storage.size('busy')).toBe(3)
    const d = storedDoc(await s.server.storage.load('busy'))
    expect(d.getArray('n').toArray()).toEqual(Array.from({ length: 13 }, (_, i) => i))
  })

  it('a room past half of compactAfterEntries compacts once no update came for compactQuietMs', async () => {
    const path = await dir(backend)
    const s = await server(path, { compactAfterEntries: 10, compactQuietMs: 200, tickMs: 0 })
    const a = await join(s.url, 'pause')
    await pushEach(s, a, 'pause', 0, 7)
    let size = -1
    await until(
      () => {
        void s.server.storage.size('pause').then((n) => (size = n))
        return size === 1
      },
      { message: 'compacted in the pause' },
    )
    expect(storedDoc(await s.server.storage.load('pause')).getArray('n').length).toBe(7)
  })
})

describe.each(backendCases)('restart with connected clients (%s)', (_name, backend) => {
  it('a stock client reconnects after a restart and its offline edits merge into the stored state', async () => {
    const path = await dir(backend)
    const s1 = await server(path)
    const port = s1.port
    const a = await join(s1.url, 'offline')
    const b = await join(s1.url, 'offline')
    a.doc.getMap('m').set('online', 1)
    await until(() => b.doc.getMap('m').get('online') === 1)
    b.destroy()
    await closeServer(s1)
    await until(() => !a.provider.wsconnected, { message: 'a noticed the shutdown' })
    a.doc.getMap('m').set('offline', 2) // made while no server runs
    const s2 = await server(path, { port })
    await until(() => a.provider.synced && a.provider.wsconnected, { message: 'a reconnected', timeout: 10_000 })
    const c = await join(s2.url, 'offline')
    await until(() => c.doc.getMap('m').get('offline') === 2, { message: 'offline edit reached a new client' })
    expect(c.doc.getMap('m').toJSON()).toEqual({ online: 1, offline: 2 })
  })
})

describe.each(backendCases)('CLI child process (%s)', (_name, backend) => {
  it('kill -9 right after another client received an update: the update is there after restart', async () => {
    const path = await dir(backend)
    const p1 = await startCli(['--data', path])
    const writer = await join(p1.url, 'crash')
    const reader = await join(p1.url, 'crash')
    writer.doc.getMap('m').set('before-crash', 42)
    writer.doc.getText('t').insert(0, 'durable')
    await until(() => reader.doc.getMap('m').get('before-crash') === 42 && reader.doc.getText('t').length === 7)
    p1.proc.kill('SIGKILL')
    expect(await p1.exited).toEqual({ code: null, signal: 'SIGKILL' })
    writer.destroy()
    reader.destroy()

    const p2 = await startCli(['--data', path])
    const c = await join(p2.url, 'crash')
    expect(c.doc.getMap('m').get('before-crash')).toBe(42)
    expect(c.doc.getText('t').toString()).toBe('durable')
  })

  it('SIGTERM flushes updates the tick has not written yet, and exits 0', async () => {
    const path = await dir(backend)
    // A tick far longer than the test: only the shutdown can have written the update.
    const p1 = await startCli(['--data', path, '--tick-ms', '600000'])
    const writer = await new RawClient(p1.url, 'term').sync()
    writer.doc.getMap('m').set('unflushed', 'yes')
    // A query-awareness on the same socket: its answer proves the server handled the update
    // (messages of a connection are handled in order) while the tick is still pending.
    writer.send(new Uint8Array([MESSAGE_QUERY_AWARENESS]))
    await until(() => writer.framesOfType(MESSAGE_AWARENESS).length > 0, { message: 'query-awareness answer' })
    p1.proc.kill('SIGTERM')
    expect(await p1.exited).toEqual({ code: 0, signal: null })
    writer.ws.terminate()

    const p2 = await startCli(['--data', path])
    const c = await join(p2.url, 'term')
    expect(c.doc.getMap('m').get('unflushed')).toBe('yes')
  })
})
