/**
 * Hostile clients (issue 19, cases 1–6; SPEC §4 rule 2, §12): one anonymous client must not
 * crash the process, get a refused change persisted or seen, keep others out of a room, or
 * grow memory and storage through awareness. Each test replays the attack as the issue
 * describes it, against a real server (the CLI in a child process where the attack used to
 * end the process), and checks what the other clients, late joiners and storage see.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import { CloseCode } from '../../src/shared/protocol/close-codes.js'
import { encodeRequest, ExtKind } from '../../src/shared/protocol/extension.js'
import { DATASTORE_ENSURE, SKELETON_ROOT } from '../../src/shared/protocol/skeleton.js'
import { datastoreSkeletonPlugin } from '../../plugins/datastore/skeleton.js'
import { MESSAGE_AWARENESS, MESSAGE_QUERY_AWARENESS } from '../../src/shared/protocol/message-types.js'
import { authorityPlugin, identityOf } from '../../plugins/authority/index.js'
import type { ServerOptions } from '../../server/index.js'
import { connectProvider, mulberry32, RawClient, startServer, until, type ProviderClient, type TestServer } from '../helpers.js'
import { createModel, model, trio, type Trio } from '../authority/trio.js'
import { killAll, startCli, type CliServer } from './fixtures/cli.js'
import { backendCases, type Backend } from '../backends.js'
import {
  awarenessIds,
  awarenessMessage,
  chainDepth,
  chainEnd,
  createOwnedModel,
  halfAppliedUpdate,
  MALFORMED_STATE_VECTOR,
  nestedMapsUpdate,
  syncStep1,
  whileAlive,
} from './fixtures/hostile.js'

const clients: ProviderClient[] = []
const raws: RawClient[] = []
const servers: TestServer[] = []
const dirs: Array<{ cleanup(): Promise<void> }> = []
let t: Trio | null = null

const clis: CliServer[] = []

afterEach(async () => {
  // Each case is fixed at its root: the safety net (a failed room dropped and reloaded)
  // must not be what kept the server going.
  const failures = servers.map((s) => s.server.metrics.roomFailures)
  const cliOutputs = clis.splice(0).map((c) => c.output())
  for (const c of clients.splice(0)) c.destroy()
  for (const r of raws.splice(0)) r.ws.terminate()
  for (const s of servers.splice(0)) await s.close()
  for (const f of failures) expect((await f.get()).values[0]?.value ?? 0).toBe(0)
  for (const out of cliOutputs) expect(out).not.toMatch(/room failed|uncaught|unhandled/i)
  await t?.close()
  t = null
  await killAll()
})
afterAll(async () => {
  for (const d of dirs.splice(0)) await d.cleanup()
})

async function join(url: string, room: string, doc?: Y.Doc): Promise<ProviderClient> {
  const c = await connectProvider(url, room, doc ? { doc } : {})
  clients.push(c)
  return c
}

/** A stock client whose closes are recorded from its first connection on. */
async function joinWatched(url: string, room: string): Promise<{ client: ProviderClient; closes: number[] }> {
  const client = await connectProvider(url, room, { connect: false })
  clients.push(client)
  const closes: number[] = []
  client.provider.on('connection-close', (event) => void closes.push(event?.code ?? -1))
  const synced = new Promise<void>((resolve) => client.provider.once('sync', () => resolve()))
  client.provider.connect()
  await synced
  return { client, closes }
}

function raw(url: string, room: string, doc?: Y.Doc): RawClient {
  const r = new RawClient(url, room, doc ? { doc } : {})
  raws.push(r)
  return r
}

async function server(options: ServerOptions = {}): Promise<TestServer> {
  const s = await startServer({ tickMs: 10, plugins: [authorityPlugin()], ...options })
  servers.push(s)
  return s
}

async function closeServer(s: TestServer): Promise<void> {
  servers.splice(servers.indexOf(s), 1)
  await s.close()
}

/** Fresh storage of `backend` (test/backends.ts): its storage / --data value. */
async function dir(backend: Backend): Promise<string> {
  const d = await backend.data()
  dirs.push(d)
  return d.data
}

/** The CLI as users run it (authority and the default plugins on), in a child process. */
async function cli(): Promise<CliServer> {
  const c = await startCli(['--data', ':memory:'])
  clis.push(c)
  return c
}

/**
 * Both clients write and each sees the other's write: the room still syncs both ways.
 * `tag` makes the keys unique per call.
 */
async function exchange(a: ProviderClient, b: ProviderClient, tag: string): Promise<void> {
  a.doc.getMap('m').set(`a-${tag}`, tag)
  b.doc.getMap('m').set(`b-${tag}`, tag)
  await until(() => b.doc.getMap('m').get(`a-${tag}`) === tag && a.doc.getMap('m').get(`b-${tag}`) === tag, {
    message: `honest clients to exchange writes (${tag})`,
  })
}

/**
 * Waits until the server has handled everything `c` sent so far that is answered on
 * arrival: a query-awareness is answered in order, so its answer (or a close) means the
 * messages before it were dispatched. Returns the answer (null when closed).
 */
async function roundTrip(c: RawClient): Promise<Uint8Array | null> {
  const before = c.framesOfType(MESSAGE_AWARENESS).length
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, MESSAGE_QUERY_AWARENESS)
  c.send(encoding.toUint8Array(e))
  await until(() => c.closeCode !== null || c.framesOfType(MESSAGE_AWARENESS).length > before, { message: 'query-awareness answer' })
  return c.closeCode !== null ? null : c.framesOfType(MESSAGE_AWARENESS)[before]
}

// ---------------------------------------------------------------------------------------
describe('case 1: a malformed sync step 1 (state vector ff ff ff ff 0f 01)', () => {
  it('after an update: the offender alone is closed with 1002, the process lives, the update is kept', async () => {
    const srv = await cli()
    const live = <T>(p: Promise<T>) => whileAlive(srv, p)
    const a = await live(join(srv.url, 'sv'))
    const b = await live(join(srv.url, 'sv'))
    const offender = await live(raw(srv.url, 'sv').sync())
    // Any valid update, then at once the bad step 1: its answer waits for the update's storage.
    offender.doc.getMap('m').set('accepted', 1)
    offender.send(syncStep1(MALFORMED_STATE_VECTOR))
    await live(offender.closed)
    // The process lives: the honest clients keep syncing, and a newcomer joins, reads, writes.
    await live(exchange(a, b, 'after'))
    const fresh = await live(join(srv.url, 'sv'))
    expect(fresh.doc.getMap('m').toJSON()).toEqual({ accepted: 1, 'a-after': 'after', 'b-after': 'after' })
    fresh.doc.getMap('m').set('fresh', 1)
    await live(until(() => a.doc.getMap('m').get('fresh') === 1 && b.doc.getMap('m').get('fresh') === 1, { message: 'newcomer write seen' }))
    expect(srv.proc.exitCode).toBe(null)
    // Only the offender was closed, with a protocol error and a reason; its update stays.
    expect(offender.closeCode).toBe(CloseCode.PROTOCOL_ERROR)
    expect(offender.closeReason).toMatch(/malformed|state vector/i)
    expect(a.doc.getMap('m').get('accepted')).toBe(1)
    expect(b.doc.getMap('m').get('accepted')).toBe(1)
    expect(a.provider.wsconnected && b.provider.wsconnected).toBe(true)
  })

  it('alone, while an honest client writes continuously: the process lives, every write is delivered', async () => {
    const srv = await cli()
    const live = <T>(p: Promise<T>) => whileAlive(srv, p)
    const writer = await live(join(srv.url, 'busy'))
    const reader = await live(join(srv.url, 'busy'))
    const offenders = await live(Promise.all([1, 2, 3].map(() => raw(srv.url, 'busy').sync())))
    const WRITES = 24
    for (let i = 1; i <= WRITES; i++) {
      writer.doc.getMap('m').set('n', i)
      // Right behind an honest write, which is still waiting to be stored.
      if (i % 8 === 0) offenders[i / 8 - 1].send(syncStep1(MALFORMED_STATE_VECTOR))
      await live(until(() => reader.doc.getMap('m').get('n') === i, { message: `honest write ${i} delivered` }))
    }
    await live(Promise.all(offenders.map((o) => o.closed)))
    const fresh = await live(join(srv.url, 'busy'))
    expect(fresh.doc.getMap('m').get('n')).toBe(WRITES)
    await live(exchange(writer, fresh, 'fresh'))
    expect(srv.proc.exitCode).toBe(null)
    for (const o of offenders) {
      expect(o.closeCode).toBe(CloseCode.PROTOCOL_ERROR)
      expect(o.closeReason).toMatch(/\S/)
    }
  })
})

// ---------------------------------------------------------------------------------------
describe('case 2: an update that throws half way through Y.applyUpdate', () => {
  // Client ids of the crafted update: HIGH writes into the owner's model and is integrated
  // first; LOW's item has an origin that does not exist and makes Y.applyUpdate throw.
  const HIGH = 0x7ffffff0
  const LOW = (1 << 21) + 3
  const modelOf = (doc: Y.Doc) => doc.getMap('root').get('m') as Y.Map<unknown> | undefined
  const xOf = (doc: Y.Doc) => modelOf(doc)?.get('x')
  const writeX = (value: number) => (doc: Y.Doc) => modelOf(doc)!.set('x', value)

  /** The attacker was closed with 1002, or told that its update was refused. */
  async function closedOrRefused(attacker: RawClient): Promise<void> {
    const notice = () => attacker.ext.some((m) => m.kind === ExtKind.ERROR || m.kind === ExtKind.REJECTED)
    await until(() => attacker.closeCode !== null || notice(), { message: 'the attacker to be closed or refused' })
    expect(attacker.closeCode === CloseCode.PROTOCOL_ERROR || (attacker.closeCode === null && notice())).toBe(true)
  }

  it.each(backendCases)("its first client section's write into another's model is never kept: not for the owner, a late joiner, nor after a restart (%s)", async (_name, backend) => {
    const path = await dir(backend)
    let s = await server({ storage: path })
    const ownerDoc = new Y.Doc()
    const owner = await join(s.url, 'half', ownerDoc)
    const observer = await join(s.url, 'half')
    createOwnedModel(ownerDoc, ownerDoc.getMap('root'), 'm', { x: 1 }, ownerDoc.clientID)
    await until(() => xOf(observer.doc) === 1, { message: 'model created' })

    const attacker = await raw(s.url, 'half').sync()
    attacker.hello()
    attacker.sendUpdate(halfAppliedUpdate(attacker.doc, writeX(666), HIGH, LOW))
    await closedOrRefused(attacker)

    // Whatever the server broadcast since reached the owner once it sees the observer's later write.
    observer.doc.getMap('root').set('ping', 1)
    await until(() => ownerDoc.getMap('root').get('ping') === 1, { message: 'owner caught up' })
    expect(xOf(ownerDoc)).toBe(1)
    expect(xOf(observer.doc)).toBe(1)
    const late = await join(s.url, 'half')
    expect(xOf(late.doc)).toBe(1)
    expect(modelOf(late.doc)!.toJSON()).toEqual({ $meta: { ownerID: ownerDoc.clientID }, x: 1 })
    expect(xOf(s.server.rooms.get('half')!.doc)).toBe(1)

    // A clean restart on the same storage: the server, a newcomer and the returning owner.
    for (const c of clients.splice(0)) {
      if (c === owner) c.provider.destroy() // the owner keeps its replica for later
      else c.destroy()
    }
    await closeServer(s)
    s = await server({ storage: path })
    const after = await join(s.url, 'half')
    expect(xOf(after.doc)).toBe(1)
    expect(xOf(s.server.rooms.get('half')!.doc)).toBe(1)
    const back = await join(s.url, 'half', ownerDoc)
    after.doc.getMap('root').set('ping', 2)
    await until(() => ownerDoc.getMap('root').get('ping') === 2, { message: 'owner caught up after the restart' })
    expect(xOf(back.doc)).toBe(1)
  })

  it("in a batch with another connection's refused change, the write is never seen by an observer", async () => {
    // A long apply delay gathers both attackers' updates into one batch (one transaction).
    const s = await server({ tickMs: 200, applyDelayMs: 200 })
    const ownerDoc = new Y.Doc()
    await join(s.url, 'batch', ownerDoc)
    const observer = await join(s.url, 'batch')
    const second = await join(s.url, 'batch')
    createOwnedModel(ownerDoc, ownerDoc.getMap('root'), 'm', { x: 1 }, ownerDoc.clientID)
    await until(() => xOf(observer.doc) === 1 && xOf(second.doc) === 1, { message: 'model created' })
    const seen: unknown[] = []
    observer.doc.on('afterTransaction', () => void seen.push(xOf(observer.doc)))

    const attacker = await raw(s.url, 'batch').sync()
    attacker.hello()
    attacker.sendUpdate(halfAppliedUpdate(attacker.doc, writeX(666), HIGH, LOW))
    writeX(777)(second.doc) // a plain refused write, in the same batch
    await closedOrRefused(attacker)

    // Whatever the server broadcast since reached the others once they see the owner's later write.
    modelOf(ownerDoc)!.set('ping', 1)
    await until(() => modelOf(observer.doc)?.get('ping') === 1 && modelOf(second.doc)?.get('ping') === 1, { message: 'clients caught up' })
    expect(seen.length).toBeGreaterThan(0)
    expect(seen).not.toContain(666)
    expect(seen).not.toContain(777)
    expect(xOf(observer.doc)).toBe(1)
    expect(xOf(second.doc)).toBe(1) // rolled back
    expect(xOf(ownerDoc)).toBe(1)
    expect(xOf(s.server.rooms.get('batch')!.doc)).toBe(1)
    const late = await join(s.url, 'batch')
    expect(xOf(late.doc)).toBe(1)
    // Nor is it in storage.
    const room = s.server.rooms.get('batch')!
    await room.flush()
    const stored = new Y.Doc()
    for (const u of (await s.server.storage.load('batch')).updates) Y.applyUpdate(stored, u)
    expect(xOf(stored)).toBe(1)
  })
})

// ---------------------------------------------------------------------------------------
describe('case 3: deep nesting', () => {
  it.each([5000, 3000])('%i nested maps in one update: refused with 4422, the process lives, nothing of it is kept', async (levels) => {
    const srv = await cli()
    const live = <T>(p: Promise<T>) => whileAlive(srv, p)
    const a = await live(join(srv.url, 'deep'))
    const b = await live(join(srv.url, 'deep'))
    await live(exchange(a, b, 'before'))
    const offender = await live(raw(srv.url, 'deep').sync())
    const update = nestedMapsUpdate(levels)
    offender.sendUpdate(update)
    await live(until(() => offender.closeCode !== null, { message: `the offender of ${update.byteLength} bytes to be closed` }))
    await live(exchange(a, b, 'after'))
    const late = await live(join(srv.url, 'deep'))
    await live(exchange(a, late, 'late'))
    expect(srv.proc.exitCode).toBe(null)
    expect(offender.closeCode).toBe(CloseCode.UNPROCESSABLE)
    expect(offender.closeReason).toMatch(/nest/i)
    for (const c of [a, b, late]) expect(chainDepth(c.doc)).toBe(0)
  })

  it('maxNestingDepth: a chain at the limit is accepted; one level more is refused, in one update or added later', async () => {
    // A root type is depth 1: root + 9 nested maps is depth 10, the limit.
    const s = await server({ maxNestingDepth: 10 })
    const observer = await join(s.url, 'limit')
    const ok = await raw(s.url, 'limit').sync()
    ok.sendUpdate(nestedMapsUpdate(9))
    await until(() => chainDepth(observer.doc) === 9, { message: 'chain at the limit accepted' })

    const deeper = await raw(s.url, 'limit').sync()
    expect(chainDepth(deeper.doc)).toBe(9)
    chainEnd(deeper.doc).set('c', new Y.Map()) // depth 11
    await until(() => deeper.closeCode !== null, { message: 'one more level to be refused' })
    expect(deeper.closeCode).toBe(CloseCode.UNPROCESSABLE)
    expect(deeper.closeReason).toMatch(/nest/i)

    const fresh = await raw(s.url, 'limit').sync()
    fresh.sendUpdate(nestedMapsUpdate(10, 'other')) // depth 11 in one update
    await until(() => fresh.closeCode !== null, { message: 'a chain over the limit to be refused' })
    expect(fresh.closeCode).toBe(CloseCode.UNPROCESSABLE)

    ok.doc.getMap('m').set('still', 'open')
    await until(() => observer.doc.getMap('m').get('still') === 'open', { message: 'the accepted client keeps writing' })
    expect(ok.closeCode).toBe(null)
    const late = await join(s.url, 'limit')
    expect(chainDepth(late.doc)).toBe(9)
    expect(chainDepth(late.doc, 'other')).toBe(0)
    expect(chainDepth(s.server.rooms.get('limit')!.doc)).toBe(9)
  })
})

// ---------------------------------------------------------------------------------------
describe('case 4: maxDocumentBytes is measured on the document, not on the log', () => {
  const CAP = 2_000_000
  const value = (tag: string) => 'x'.repeat(100_000 - 16) + `#${tag}`

  it('overwriting one 100 KB value 40 times (4 MB of log, a 100 KB document) is accepted; newcomers join and write', async () => {
    const s = await server({ maxDocumentBytes: CAP, maxMessageBytes: 200_000 })
    const observer = await join(s.url, 'over')
    const writer = await raw(s.url, 'over').sync()
    let sent = 0
    for (let i = 1; i <= 40; i++) {
      writer.doc.getMap('m').set('big', value(String(i)))
      sent += 100_000
      await until(() => writer.closeCode !== null || observer.doc.getMap('m').get('big') === value(String(i)), { message: `write ${i}` })
      expect(writer.closeCode, `write ${i} refused: ${writer.closeReason}`).toBe(null)
    }
    // The premise: far more was written than the cap, while the document stayed small.
    expect(sent).toBeGreaterThan(CAP)
    const room = s.server.rooms.get('over')!
    expect(Y.encodeStateAsUpdate(room.doc).byteLength).toBeLessThan(CAP / 10)
    // A new stock client joins (its sync step 2 is accepted), reads, writes and is seen.
    const { client: fresh, closes } = await joinWatched(s.url, 'over')
    expect(fresh.doc.getMap('m').get('big')).toBe(value('40'))
    fresh.doc.getMap('m').set('hello', 'fresh')
    await until(() => observer.doc.getMap('m').get('hello') === 'fresh', { message: 'newcomer write seen' })
    writer.doc.getMap('m').set('small', 1)
    await until(() => observer.doc.getMap('m').get('small') === 1, { message: 'writer still writes' })
    expect(closes).toEqual([])
    expect(writer.closeCode).toBe(null)
  })

  it.each(backendCases)('a document really over the cap: growth is refused with 4413; an empty sync step 2 and deletions are accepted (%s)', async (_name, backend) => {
    const path = await dir(backend)
    // 2.5 MB of distinct values, stored under a larger cap, then reloaded under 2 MB.
    let s = await server({ storage: path, maxDocumentBytes: 2 * CAP, maxMessageBytes: 200_000 })
    {
      const observer = await join(s.url, 'full')
      const filler = await raw(s.url, 'full').sync()
      for (let i = 0; i < 25; i++) {
        filler.doc.getMap('m').set(`k${i}`, value(`k${i}`))
        await until(() => filler.closeCode !== null || observer.doc.getMap('m').get(`k${i}`) !== undefined, { message: `fill ${i}` })
        expect(filler.closeCode).toBe(null)
      }
      expect(Y.encodeStateAsUpdate(s.server.rooms.get('full')!.doc).byteLength).toBeGreaterThan(CAP)
      for (const c of clients.splice(0)) c.destroy()
      await closeServer(s)
    }
    s = await server({ storage: path, maxDocumentBytes: CAP, maxMessageBytes: 200_000 })

    // A newcomer: its sync step 2 (an empty update) is accepted.
    const newcomer = await raw(s.url, 'full').sync()
    await roundTrip(newcomer)
    expect(newcomer.closeCode, `newcomer refused: ${newcomer.closeReason}`).toBe(null)
    expect(newcomer.doc.getMap('m').size).toBe(25)
    const observer = await join(s.url, 'full')

    // Growth is refused, with 4413 and a reason.
    const grower = await raw(s.url, 'full').sync()
    grower.doc.getMap('m').set('grow', value('grow'))
    await until(() => grower.closeCode !== null, { message: 'growth refused' })
    expect(grower.closeCode).toBe(CloseCode.DOCUMENT_TOO_LARGE)
    expect(grower.closeReason).toMatch(/\S/)

    // Deletions are accepted (a stock client, whose own step 2 is accepted too).
    const { client: deleter, closes } = await joinWatched(s.url, 'full')
    deleter.doc.transact(() => {
      for (let i = 0; i < 10; i++) deleter.doc.getMap('m').delete(`k${i}`)
    })
    await until(() => observer.doc.getMap('m').size === 15, { message: 'deletions seen' })
    expect(s.server.rooms.get('full')!.doc.getMap('m').size).toBe(15)

    // Now under the cap by far: a new value fits again.
    const writer = await raw(s.url, 'full').sync()
    writer.doc.getMap('m').set('after', value('after'))
    await until(() => writer.closeCode !== null || observer.doc.getMap('m').get('after') !== undefined, { message: 'write after deletions' })
    expect(writer.closeCode, `write after deletions refused: ${writer.closeReason}`).toBe(null)

    const late = await join(s.url, 'full')
    expect([...late.doc.getMap('m').keys()].sort()).toEqual(
      [...Array.from({ length: 15 }, (_, i) => `k${i + 10}`), 'after'].sort(),
    )
    expect(closes).toEqual([])
    expect(newcomer.closeCode).toBe(null)
  })

  it.each(backendCases)('a room stored as a V2 snapshot, far smaller than its document, is measured on its first write after a reload (%s)', async (_name, backend) => {
    const path = await dir(backend)
    // 8,000 single-character inserts at random places: a 134 KB document (the V1 state the
    // cap counts) whose V2 snapshot is about 40 KB.
    const source = new Y.Doc()
    const text = source.getText('t')
    const rnd = mulberry32(7)
    for (let i = 0; i < 8000; i++) text.insert(Math.floor(rnd() * (text.length + 1)), 'ab'[i % 2])
    const v1 = Y.encodeStateAsUpdate(source).byteLength
    expect(v1 / Y.encodeStateAsUpdateV2(source).byteLength).toBeGreaterThan(2.5)
    let s = await server({ storage: path, maxMessageBytes: 200_000 })
    {
      const filler = await raw(s.url, 'v2', source).sync()
      await roundTrip(filler)
      expect(filler.closeCode).toBe(null)
      for (const c of clients.splice(0)) c.destroy()
      await closeServer(s) // unloads: the room is stored as one V2 snapshot
    }
    s = await server({ storage: path, maxDocumentBytes: v1 + 16_000, maxMessageBytes: 200_000 })
    const observer = await join(s.url, 'v2')
    expect(observer.doc.getText('t').toString()).toBe(text.toString())
    // 30 KB more would pass the cap: refused, though the stored bytes plus it would not be.
    const grower = await raw(s.url, 'v2').sync()
    grower.doc.getMap('m').set('grow', 'y'.repeat(30_000))
    await until(() => grower.closeCode !== null, { message: 'growth refused' })
    expect(grower.closeCode).toBe(CloseCode.DOCUMENT_TOO_LARGE)
    // 5 KB fits.
    const writer = await raw(s.url, 'v2').sync()
    writer.doc.getMap('m').set('small', 'z'.repeat(5_000))
    await until(() => writer.closeCode !== null || observer.doc.getMap('m').get('small') !== undefined, { message: 'small write' })
    expect(writer.closeCode, `small write refused: ${writer.closeReason}`).toBe(null)
  })
})

// ---------------------------------------------------------------------------------------
describe('case 5: awareness under many fresh client ids', () => {
  /** The cursor `of` publishes, as `at` sees it. */
  const cursorOf = (at: ProviderClient, of: ProviderClient) =>
    (at.provider.awareness.getStates().get(of.doc.clientID) as { user?: { cursor?: number } } | undefined)?.user?.cursor

  it.each(backendCases)('only a few states per connection are applied, and none of their ids is stored (%s)', async (_name, backend) => {
    const path = await dir(backend)
    const s = await server({ storage: path, idleShutdownMs: 50 })
    const max = 4 // the default of maxAwarenessIdsPerConnection
    const observer = await join(s.url, 'aw')
    const honest = await join(s.url, 'aw')
    honest.provider.awareness.setLocalStateField('user', { name: 'honest', cursor: 1 })
    await until(() => cursorOf(observer, honest) === 1, {
      message: 'honest awareness seen',
    })

    const attacker = await raw(s.url, 'aw').sync()
    const ids = Array.from({ length: 5000 }, (_, i) => 3_000_000 + i * 7)
    for (let i = 0; i < ids.length; i += 1000) attacker.send(awarenessMessage(ids.slice(i, i + 1000)))
    const spam = new Set(ids)
    // The server's own view, once it has handled all five messages (or closed the attacker).
    const answer = await roundTrip(attacker)
    if (answer !== null) expect(awarenessIds(answer).filter((id) => spam.has(id)).length).toBeLessThanOrEqual(max)
    const table = identityOf(s.server.rooms.get('aw')!)
    expect(ids.filter((id) => table.get(id) !== undefined).length).toBeLessThanOrEqual(max)

    // A stock client's awareness still works; the observer has, by then, every state sent before.
    honest.provider.awareness.setLocalStateField('user', { name: 'honest', cursor: 2 })
    await until(() => cursorOf(observer, honest) === 2, {
      message: 'honest cursor update seen',
    })
    const fromAttacker = [...observer.provider.awareness.getStates().keys()].filter((id) => spam.has(id))
    expect(fromAttacker.length).toBeLessThanOrEqual(max)
    expect(s.server.rooms.get('aw')!.awareness.getStates().size).toBeLessThanOrEqual(2 + max)

    // Everyone leaves; the room unloads; nothing of the awareness ids was stored.
    await attacker.close()
    for (const c of clients.splice(0)) c.destroy()
    await until(() => s.server.rooms.get('aw') === undefined, { message: 'room unloaded' })
    await s.server.rooms.unload('aw') // waits for the unload under way to finish
    const stored = await s.server.storage.getMeta('aw', 'authority.bindings')
    const bound = stored ? Object.keys(JSON.parse(Buffer.from(stored).toString('utf8')) as object).map(Number) : []
    expect(bound.filter((id) => spam.has(id))).toEqual([])
  })
})

// ---------------------------------------------------------------------------------------
describe('case 6 (SPEC §4 rule 2): an owned model cannot be destroyed through its container', () => {
  const models = (doc: Y.Doc) => doc.getMap<unknown>('models')
  const box = (doc: Y.Doc) => models(doc).get('box') as Y.Map<unknown> | undefined

  /** box (unowned) → `path` of unowned maps → model owned by `ownerID` with x = 1. */
  function createBoxed(doc: Y.Doc, ownerID: number, path: string[] = []): void {
    doc.transact(() => {
      const b = new Y.Map<unknown>()
      models(doc).set('box', b)
      let parent = b
      for (const key of path) {
        const inner = new Y.Map<unknown>()
        parent.set(key, inner)
        parent = inner
      }
      createOwnedModel(doc, parent, 'model', { x: 1 }, ownerID)
    })
  }
  const boxedModel = (doc: Y.Doc, path: string[] = []) => {
    let m: unknown = box(doc)
    for (const key of [...path, 'model']) m = m instanceof Y.Map ? m.get(key) : undefined
    return m instanceof Y.Map ? (m.toJSON() as Record<string, unknown>) : undefined
  }

  async function expectIntact(path: string[] = []): Promise<void> {
    const tr = t!
    await tr.converge()
    const want = { $meta: { ownerID: tr.owner.doc.clientID }, x: 1 }
    for (const d of tr.replicas()) expect(boxedModel(d, path)).toEqual(want)
    // The observer never saw the box without the model.
    expect(tr.seen.every((json) => json.includes('"x":1'))).toBe(true)
    const late = await join(tr.s.url, tr.room)
    expect(boxedModel(late.doc, path)).toEqual(want)
  }

  it("replacing the unowned container of another's model is rolled back", async () => {
    t = await trio()
    createBoxed(t.owner.doc, t.owner.doc.clientID)
    await t.converge()
    models(t.offender.doc).set('box', new Y.Map())
    expect(boxedModel(t.offender.doc)).toBeUndefined()
    await expectIntact()
  })

  it("deleting the key of the unowned container of another's model is rolled back", async () => {
    t = await trio()
    createBoxed(t.owner.doc, t.owner.doc.clientID)
    await t.converge()
    models(t.offender.doc).delete('box')
    expect(box(t.offender.doc)).toBeUndefined()
    await expectIntact()
  })

  it("replacing a container that holds another's model deeper down is rolled back", async () => {
    t = await trio()
    createBoxed(t.owner.doc, t.owner.doc.clientID, ['shelf', 'drawer'])
    await t.converge()
    models(t.offender.doc).set('box', new Y.Map())
    await expectIntact(['shelf', 'drawer'])
  })

  it('replacing or deleting a container whose models are unowned or owned by the writer is allowed', async () => {
    t = await trio()
    const tr = t
    // The offender's own model and an unowned one, in one container.
    tr.offender.doc.transact(() => {
      const b = new Y.Map<unknown>()
      models(tr.offender.doc).set('box', b)
      createOwnedModel(tr.offender.doc, b, 'mine', { x: 1 }, tr.offender.doc.clientID)
      createOwnedModel(tr.offender.doc, b, 'free', { x: 1 }, -1)
    })
    await tr.converge()
    const replacement = new Y.Map<unknown>()
    models(tr.offender.doc).set('box', replacement)
    replacement.set('fresh', true)
    await tr.converge()
    for (const d of tr.replicas()) expect(box(d)?.toJSON()).toEqual({ fresh: true })
    // The owner's own container of unowned models, deleted by the offender.
    tr.owner.doc.transact(() => {
      const b = new Y.Map<unknown>()
      models(tr.owner.doc).set('crate', b)
      createOwnedModel(tr.owner.doc, b, 'free', { x: 2 }, -1)
    })
    await tr.converge()
    models(tr.offender.doc).delete('crate')
    await tr.converge()
    for (const d of tr.replicas()) expect(models(d).has('crate')).toBe(false)
  })
})

// ---------------------------------------------------------------------------------------
describe('requests that make the server work for one client', () => {
  it('sync step 1 over and over: a burst is answered, then the connection is closed with 1008', async () => {
    const s = await server()
    const honest = await join(s.url, 'sv')
    honest.doc.getMap('m').set('big', 'x'.repeat(50_000))
    const flood = await raw(s.url, 'sv').sync()
    const answersBefore = flood.frames.length
    const empty = new Uint8Array([0])
    for (let i = 0; i < 50; i++) flood.send(syncStep1(empty))
    await flood.closed
    expect(flood.closeCode).toBe(CloseCode.POLICY_VIOLATION)
    expect(flood.closeReason).toMatch(/sync requests/)
    // The burst (five answers, the first one spent by its own sync) and not fifty.
    expect(flood.frames.length - answersBefore).toBeLessThanOrEqual(5)
    const late = await join(s.url, 'sv')
    expect((late.doc.getMap('m').get('big') as string).length).toBe(50_000)
  })

  it('a second hello on one connection is refused (1002)', async () => {
    const s = await server()
    const c = await raw(s.url, 'hello').sync()
    c.hello()
    await until(() => c.ext.some((m) => m.kind === ExtKind.WELCOME), { message: 'welcome' })
    c.hello(c.doc.clientID + 1)
    await c.closed
    expect(c.closeCode).toBe(CloseCode.PROTOCOL_ERROR)
    expect(c.closeReason).toMatch(/hello/)
  })

  it.each(backendCases)('ids announced in hellos are not stored unless the connection writes under them (%s)', async (_name, backend) => {
    const path = await dir(backend)
    const s = await server({ storage: path, idleShutdownMs: 50 })
    const idle: RawClient[] = []
    for (let i = 0; i < 5; i++) {
      const c = await raw(s.url, 'hellos').sync()
      c.hello(5_000_000 + i)
      await until(() => c.ext.some((m) => m.kind === ExtKind.WELCOME), { message: 'welcome' })
      idle.push(c)
    }
    const writer = await raw(s.url, 'hellos').sync()
    writer.hello()
    await until(() => writer.ext.some((m) => m.kind === ExtKind.WELCOME), { message: 'welcome' })
    writer.doc.getMap('m').set('w', 1)
    await until(() => s.server.rooms.get('hellos')?.doc.getMap('m').get('w') === 1, { message: 'write applied' })
    for (const c of [...idle, writer]) await c.close()
    await until(() => s.server.rooms.get('hellos') === undefined, { message: 'room unloaded' })
    await s.server.rooms.unload('hellos')
    const stored = await s.server.storage.getMeta('hellos', 'authority.bindings')
    const bound = Object.keys(JSON.parse(Buffer.from(stored!).toString('utf8')) as object).map(Number)
    expect(bound).toContain(writer.doc.clientID)
    for (let i = 0; i < 5; i++) expect(bound).not.toContain(5_000_000 + i)
  })
})

// ---------------------------------------------------------------------------------------
describe('content the server could not encode again, or that costs it far more than its bytes', () => {
  /** A JSON text `depth` arrays deep. */
  const deepJson = (depth: number) => '['.repeat(depth) + ']'.repeat(depth)

  it('an awareness state nested thousands deep is refused (1002); awareness keeps working for everyone', async () => {
    const s = await server()
    const a = await join(s.url, 'deep-aw')
    const b = await join(s.url, 'deep-aw')
    const bad = await raw(s.url, 'deep-aw').sync()
    const enc = encoding.createEncoder()
    encoding.writeVarUint(enc, MESSAGE_AWARENESS)
    const inner = encoding.createEncoder()
    encoding.writeVarUint(inner, 1)
    encoding.writeVarUint(inner, bad.doc.clientID)
    encoding.writeVarUint(inner, 1)
    encoding.writeVarString(inner, `{"x":${deepJson(5000)}}`)
    encoding.writeVarUint8Array(enc, encoding.toUint8Array(inner))
    bad.send(encoding.toUint8Array(enc))
    await bad.closed
    expect(bad.closeCode).toBe(CloseCode.PROTOCOL_ERROR)
    expect(bad.closeReason).toMatch(/nested/)
    a.provider.awareness.setLocalStateField('user', { name: 'a' })
    await until(() => (b.provider.awareness.getStates().get(a.doc.clientID) as { user?: { name?: string } })?.user?.name === 'a')
    const late = await join(s.url, 'deep-aw')
    await until(() => late.provider.awareness.getStates().has(a.doc.clientID), { message: 'late joiner gets awareness' })
  })

  it('an embed or format value nested thousands deep is refused whole (1002); the room still syncs and stores', async () => {
    const s = await server()
    const a = await join(s.url, 'deep-embed')
    const bad = await raw(s.url, 'deep-embed').sync()
    // A Y.Text embed is ContentEmbed, held as JSON text. Yjs cannot even encode one this
    // deep, so the update is written by hand (UpdateEncoderV1: see server/codec/update-layout.ts).
    const u = encoding.createEncoder()
    encoding.writeVarUint(u, 1) // one section
    encoding.writeVarUint(u, 1) // of one struct
    encoding.writeVarUint(u, bad.doc.clientID)
    encoding.writeVarUint(u, 0) // from clock 0
    encoding.writeUint8(u, 5) // an item of content type 5 (embed), no origins: its parent follows
    encoding.writeVarUint(u, 1) // the parent is a root type, by name
    encoding.writeVarString(u, 't')
    encoding.writeVarString(u, deepJson(5000))
    encoding.writeVarUint(u, 0) // no deletions
    bad.sendUpdate(encoding.toUint8Array(u))
    await bad.closed
    expect(bad.closeCode).toBe(CloseCode.PROTOCOL_ERROR)
    a.doc.getText('t').insert(0, 'ok')
    const late = await join(s.url, 'deep-embed')
    await until(() => late.doc.getText('t').toString() === 'ok')
    expect(late.doc.getText('t').toDelta()).toEqual([{ insert: 'ok' }])
  })

  it('subdocuments are refused (4422): each costs the server a whole Y.Doc', async () => {
    const s = await server()
    const a = await join(s.url, 'subdocs')
    const bad = await raw(s.url, 'subdocs').sync()
    const d = new Y.Doc()
    d.transact(() => {
      for (let i = 0; i < 1000; i++) d.getArray('docs').push([new Y.Doc()])
    })
    bad.sendUpdate(Y.encodeStateAsUpdate(d))
    await bad.closed
    expect(bad.closeCode).toBe(CloseCode.UNPROCESSABLE)
    expect(bad.closeReason).toMatch(/subdocuments/)
    expect(s.server.rooms.get('subdocs')!.doc.getArray('docs').length).toBe(0)
    a.doc.getMap('m').set('still', 1)
    const late = await join(s.url, 'subdocs')
    await until(() => late.doc.getMap('m').get('still') === 1)
  })
})

// ---------------------------------------------------------------------------------------
describe('found by the fuzzer', () => {
  it('an item of deleted content written over an owned ownerID is rolled back (preventOwnershipTakeover holds)', async () => {
    const s = await server()
    const owner = await join(s.url, 'ghost-write')
    const observer = await join(s.url, 'ghost-write')
    const models = owner.doc.getMap<unknown>('models')
    const model = createOwnedModel(owner.doc, models, 'm', { x: 1 }, owner.doc.clientID)
    ;(model.get('$meta') as Y.Map<unknown>).set('preventOwnershipTakeover', true)
    await until(() => ((observer.doc.getMap('models').get('m') as Y.Map<unknown>)?.get('$meta') as Y.Map<unknown>)?.get('preventOwnershipTakeover') === true)
    // The attacker's one item: deleted content (ContentDeleted, ref 1) whose left origin is
    // the owner's ownerID item. It takes the key from its origin and, integrated as the
    // key's newest item, deletes the value to its left: the ownerID is gone.
    const ownerItem = ((model.get('$meta') as Y.Map<unknown>)._map.get('ownerID'))!
    const attacker = await raw(s.url, 'ghost-write').sync()
    const u = encoding.createEncoder()
    encoding.writeVarUint(u, 1)
    encoding.writeVarUint(u, 1)
    encoding.writeVarUint(u, attacker.doc.clientID)
    encoding.writeVarUint(u, 0)
    encoding.writeUint8(u, 0x80 | 1) // has a left origin; content: deleted
    encoding.writeVarUint(u, ownerItem.id.client)
    encoding.writeVarUint(u, ownerItem.id.clock)
    encoding.writeVarUint(u, 1) // deleted length
    encoding.writeVarUint(u, 0)
    attacker.sendUpdate(encoding.toUint8Array(u))
    // The owner writes after it: the tick that carries the rollback comes first.
    await roundTrip(attacker)
    model.set('x', 2)
    await until(() => (observer.doc.getMap('models').get('m') as Y.Map<unknown>).get('x') === 2)
    const meta = (d: Y.Doc) => ((d.getMap('models').get('m') as Y.Map<unknown>).get('$meta') as Y.Map<unknown>).toJSON()
    const want = { ownerID: owner.doc.clientID, preventOwnershipTakeover: true }
    expect(meta(observer.doc)).toEqual(want)
    expect(meta(s.server.rooms.get('ghost-write')!.doc)).toEqual(want)
    const late = await join(s.url, 'ghost-write')
    expect(meta(late.doc)).toEqual(want)
  })

  it('a map value Yjs would never write (a string split by a later item) is malformed and undone whole; deleting its parent later is safe', async () => {
    const s = await server()
    const honest = await join(s.url, 'split-value')
    const attacker = await raw(s.url, 'split-value').sync()
    const C = attacker.doc.clientID
    const u = encoding.createEncoder()
    encoding.writeVarUint(u, 1)
    encoding.writeVarUint(u, 3) // three structs
    encoding.writeVarUint(u, C)
    encoding.writeVarUint(u, 0)
    // clock 0: m.c = new Y.Map (content type 7, with a key; parent: the root 'm' by name)
    encoding.writeUint8(u, 0x20 | 7)
    encoding.writeVarUint(u, 1)
    encoding.writeVarString(u, 'm')
    encoding.writeVarString(u, 'c')
    encoding.writeVarUint(u, 1) // YMap
    // clocks 1-2: c.k = the string 'ab' (content type 4), a map value two clocks long
    encoding.writeUint8(u, 0x20 | 4)
    encoding.writeVarUint(u, 0) // parent by id
    encoding.writeVarUint(u, C)
    encoding.writeVarUint(u, 0)
    encoding.writeVarString(u, 'k')
    encoding.writeVarString(u, 'ab')
    // clock 3: a value whose left origin is (C, 1): it splits 'ab', leaving 'a' undeleted
    // behind newer items of the key
    encoding.writeUint8(u, 0x80 | 8)
    encoding.writeVarUint(u, C)
    encoding.writeVarUint(u, 1)
    encoding.writeVarUint(u, 1)
    encoding.writeUint8(u, 120) // true
    encoding.writeVarUint(u, 0)
    attacker.sendUpdate(encoding.toUint8Array(u))
    await attacker.closed
    expect(attacker.closeCode).toBe(CloseCode.PROTOCOL_ERROR)
    expect(attacker.closeReason).toMatch(/newest item/)
    // Nothing of it stays; honest writes and deletions in the same map go on.
    honest.doc.getMap('m').set('c', new Y.Map())
    honest.doc.getMap('m').delete('c')
    honest.doc.getMap('m').set('after', 1)
    const late = await join(s.url, 'split-value')
    await until(() => late.doc.getMap('m').get('after') === 1)
    expect([...late.doc.getMap('m').keys()]).toEqual(['after'])
  })

  it("claiming a root model is refused while a model below is another's and protected from takeover", async () => {
    t = await trio()
    createModel(t.owner.doc, 'a', { x: 1 }, { ownerID: t.owner.doc.clientID, preventOwnershipTakeover: true })
    await t.converge()
    // The offender claims the root model `models`: were it accepted, rule 1 would freeze
    // the owner's model (an ancestor owned by another).
    t.offender.doc.transact(() => {
      const meta = new Y.Map<unknown>()
      meta.set('ownerID', t!.offender.doc.clientID)
      t!.offender.doc.getMap('models').set('$meta', meta)
    })
    await t.converge()
    expect(t.serverDoc().getMap('models').has('$meta')).toBe(false)
    model(t.owner.doc, 'a').set('x', 2)
    await t.converge()
    for (const d of t.replicas()) expect(model(d, 'a').get('x')).toBe(2)
  })

  it('claiming a root model is allowed when the models below could be taken over anyway', async () => {
    t = await trio()
    createModel(t.owner.doc, 'a', { x: 1 })
    await t.converge()
    t.offender.doc.transact(() => {
      const meta = new Y.Map<unknown>()
      meta.set('ownerID', t!.offender.doc.clientID)
      t!.offender.doc.getMap('models').set('$meta', meta)
    })
    await t.converge()
    expect((t.serverDoc().getMap('models').get('$meta') as Y.Map<unknown>).get('ownerID')).toBe(t.offender.doc.clientID)
  })

  it("a request's Yjs value is held to the same limits as an update: a skeleton nested too deep is refused, nothing created", async () => {
    const s = await server({ plugins: [authorityPlugin(), datastoreSkeletonPlugin()] })
    const c = await raw(s.url, 'deep-request').sync()
    c.hello()
    await until(() => c.ext.some((m) => m.kind === ExtKind.WELCOME), { message: 'welcome' })
    const value = nestedMapsUpdate(5000, SKELETON_ROOT)
    c.send(encodeRequest({ id: 1, method: DATASTORE_ENSURE, params: { root: 'app', value } }))
    await until(() => c.ext.some((m) => m.kind === ExtKind.RESPONSE), { message: 'response' })
    const response = c.ext.find((m) => m.kind === ExtKind.RESPONSE)!.body as unknown as { ok: boolean; result: { reason: string } }
    expect(response.ok).toBe(false)
    expect(response.result.reason).toBe('nesting-too-deep')
    expect(s.server.rooms.get('deep-request')!.doc.getMap('app').size).toBe(0)
  })

  it('request parameters nested thousands deep are malformed (1002)', async () => {
    const s = await server()
    const c = await raw(s.url, 'deep-params').sync()
    c.hello()
    await until(() => c.ext.some((m) => m.kind === ExtKind.WELCOME), { message: 'welcome' })
    // lib0 `any`: 5000 arrays of one element each (type 117, length 1), then null (126).
    const params = new Uint8Array(5000 * 2 + 1)
    for (let i = 0; i < 5000; i++) params.set([117, 1], i * 2)
    params[params.length - 1] = 126
    const msg = encodeRequest({ id: 1, method: 'x', params: null })
    // The request ends with its params (null: one byte, 126): put the deep value there.
    const bad = new Uint8Array(msg.length - 1 + params.length)
    bad.set(msg.subarray(0, msg.length - 1))
    bad.set(params, msg.length - 1)
    c.send(bad)
    await c.closed
    expect(c.closeCode).toBe(CloseCode.PROTOCOL_ERROR)
    expect(c.closeReason).toMatch(/nested/)
  })

  it('a section that straddles the server\'s state for its client is not joined to the struct before it', async () => {
    const s = await server()
    const owner = await join(s.url, 'straddle')
    const observer = await join(s.url, 'straddle')
    const model = createOwnedModel(owner.doc, owner.doc.getMap('models'), 'm', { x: 1 }, owner.doc.clientID)
    ;(model.get('$meta') as Y.Map<unknown>).set('preventOwnershipTakeover', true)
    const attacker = await raw(s.url, 'straddle').sync()
    await until(() => attacker.doc.getMap('models').has('m'), { message: 'attacker synced' })
    // Clock 0 of the attacker: a claim of the owner's model, rejected (rolled back).
    ;((attacker.doc.getMap('models').get('m') as Y.Map<unknown>).get('$meta') as Y.Map<unknown>).set('ownerID', attacker.doc.clientID)
    await until(() => ((attacker.doc.getMap('models').get('m') as Y.Map<unknown>).get('$meta') as Y.Map<unknown>).get('ownerID') === owner.doc.clientID, { message: 'claim rolled back' })
    // Then a string said to start at the attacker's clock 0, in a root list: its second
    // character lies past the server's state. Joined to clock 0 (the rejected claim, in the
    // owner's $meta), it would become the owner's ownerID on every replica but the server.
    const u = encoding.createEncoder()
    encoding.writeVarUint(u, 1)
    encoding.writeVarUint(u, 1)
    encoding.writeVarUint(u, attacker.doc.clientID)
    encoding.writeVarUint(u, 0)
    encoding.writeUint8(u, 4) // a string, no origins: its parent follows
    encoding.writeVarUint(u, 1)
    encoding.writeVarString(u, 'L')
    encoding.writeVarString(u, 'xW')
    encoding.writeVarUint(u, 0)
    attacker.sendUpdate(encoding.toUint8Array(u))
    await roundTrip(attacker)
    model.set('x', 2)
    await until(() => (observer.doc.getMap('models').get('m') as Y.Map<unknown>).get('x') === 2)
    const late = await join(s.url, 'straddle')
    for (const d of [observer.doc, late.doc, s.server.rooms.get('straddle')!.doc]) {
      expect(((d.getMap('models').get('m') as Y.Map<unknown>).get('$meta') as Y.Map<unknown>).toJSON()).toEqual({
        ownerID: owner.doc.clientID,
        preventOwnershipTakeover: true,
      })
    }
    expect(late.doc.getArray('L').toJSON()).toEqual(observer.doc.getArray('L').toJSON())
  })

  it('clocks near 2^53 (where additions lose precision) are malformed', async () => {
    const s = await server()
    const owner = await join(s.url, 'clocks')
    const model = createOwnedModel(owner.doc, owner.doc.getMap('models'), 'm', { x: 1 }, owner.doc.clientID)
    const observer = await join(s.url, 'clocks')
    await until(() => observer.doc.getMap('models').has('m'))
    const xItem = model._map.get('x')!
    const attacker = await raw(s.url, 'clocks').sync()
    // A GC struct 2^53-1 long, then values whose clocks can no longer be told apart, one of
    // them written over the owner's x.
    const u = encoding.createEncoder()
    encoding.writeVarUint(u, 1)
    encoding.writeVarUint(u, 3)
    encoding.writeVarUint(u, attacker.doc.clientID)
    encoding.writeVarUint(u, 0)
    encoding.writeUint8(u, 0) // GC
    encoding.writeVarUint(u, Number.MAX_SAFE_INTEGER)
    for (let i = 0; i < 2; i++) {
      encoding.writeUint8(u, 0x80 | 8) // left origin; content: any
      encoding.writeVarUint(u, xItem.id.client)
      encoding.writeVarUint(u, xItem.id.clock)
      encoding.writeVarUint(u, 1)
      encoding.writeUint8(u, 119) // a string
      encoding.writeVarString(u, 'EVIL')
    }
    encoding.writeVarUint(u, 0)
    attacker.sendUpdate(encoding.toUint8Array(u))
    await attacker.closed
    expect(attacker.closeCode).toBe(CloseCode.PROTOCOL_ERROR)
    expect(attacker.closeReason).toMatch(/clock/)
    model.set('n', 1)
    await until(() => (observer.doc.getMap('models').get('m') as Y.Map<unknown>).get('n') === 1)
    expect((observer.doc.getMap('models').get('m') as Y.Map<unknown>).get('x')).toBe(1)
  })

  it('an empty struct (a GC of length 0) is malformed; the room carries on', async () => {
    const s = await server()
    const honest = await join(s.url, 'empty-struct')
    const attacker = await raw(s.url, 'empty-struct').sync()
    const u = encoding.createEncoder()
    encoding.writeVarUint(u, 1)
    encoding.writeVarUint(u, 2)
    encoding.writeVarUint(u, attacker.doc.clientID)
    encoding.writeVarUint(u, 0)
    encoding.writeUint8(u, 0x20 | 8) // m.k = 1
    encoding.writeVarUint(u, 1)
    encoding.writeVarString(u, 'm')
    encoding.writeVarString(u, 'k')
    encoding.writeVarUint(u, 1)
    encoding.writeUint8(u, 125)
    encoding.writeVarInt(u, 1)
    encoding.writeUint8(u, 0) // then a GC of length 0
    encoding.writeVarUint(u, 0)
    encoding.writeVarUint(u, 0)
    attacker.sendUpdate(encoding.toUint8Array(u))
    await attacker.closed
    expect(attacker.closeCode).toBe(CloseCode.PROTOCOL_ERROR)
    expect(attacker.closeReason).toMatch(/empty struct/)
    honest.doc.getMap('m').set('ok', 1)
    const late = await join(s.url, 'empty-struct')
    await until(() => late.doc.getMap('m').get('ok') === 1)
    expect(late.doc.getMap('m').has('k')).toBe(false)
  })

  it("large awareness states are dropped, oversized awareness is ignored, and what a stock client relays stays under the limit", async () => {
    const s = await server({ maxMessageBytes: 40_000 })
    const watcher = await joinWatched(s.url, 'big-aw')
    // A state over 8 KiB: dropped, its sender stays connected.
    const big = await raw(s.url, 'big-aw').sync()
    big.send(awarenessMessage([big.doc.clientID], { user: { name: 'x'.repeat(20_000) } }))
    // An awareness message over the size limit: ignored, no close.
    big.send(awarenessMessage([big.doc.clientID + 1], { user: { name: 'y'.repeat(45_000) } }))
    // Twelve clients with 6 KB states: 72 KB in all, more than the limit in one message.
    const many: RawClient[] = []
    for (let i = 0; i < 12; i++) {
      const c = await raw(s.url, 'big-aw').sync()
      c.send(awarenessMessage([c.doc.clientID], { user: { name: String(i).padStart(6_000, 'a') } }))
      many.push(c)
    }
    await until(() => many.every((c) => watcher.client.provider.awareness.getStates().has(c.doc.clientID)), { message: 'states seen' })
    // A stock client joining now gets them all and relays them back: still connected.
    const late = await joinWatched(s.url, 'big-aw')
    await until(() => many.every((c) => late.client.provider.awareness.getStates().has(c.doc.clientID)), { message: 'late joiner has the states' })
    late.client.doc.getMap('m').set('alive', 1)
    await until(() => watcher.client.doc.getMap('m').get('alive') === 1, { message: 'late joiner still writes' })
    expect(watcher.client.provider.awareness.getStates().has(big.doc.clientID)).toBe(false)
    expect(big.closeCode).toBe(null)
    expect(watcher.closes).toEqual([])
    expect(late.closes).toEqual([])
  })
})

// ---------------------------------------------------------------------------------------
describe('rooms opened by name', () => {
  it.each(backendCases)('opening rooms without writing (awareness included) stores nothing (%s)', async (_name, backend) => {
    const path = await dir(backend)
    const s = await server({ storage: path, idleShutdownMs: 20 })
    const names = Array.from({ length: 20 }, (_, i) => `drive-by-${i}`)
    for (const name of names) {
      const c = await join(s.url, name)
      c.provider.awareness.setLocalStateField('user', { name: 'passer-by' })
      await until(() => s.server.rooms.get(name)?.awareness.getStates().has(c.doc.clientID) === true, { message: 'awareness applied' })
      clients.splice(clients.indexOf(c), 1)
      c.destroy()
    }
    await until(() => names.every((n) => s.server.rooms.get(n) === undefined), { message: 'rooms unloaded' })
    for (const n of names) await s.server.rooms.unload(n)
    expect(await s.server.storage.list()).toEqual([])
    for (const n of names) expect(await s.server.storage.getMeta(n, 'authority.bindings')).toBeUndefined()
  })
})
