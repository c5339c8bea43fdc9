/**
 * Updates that wait in a room's inbox together are applied in one Yjs transaction
 * (server/room/inbox.ts), each judged on its own. Clients here send in one synchronous block, so
 * the server reads their messages together and applies them as one batch; each test checks
 * that a batch of that size really happened (yroom_update_batch_size). Updates wait for the
 * tick, except those that might be rejected (they touch others' content, or their connection
 * had a rejection lately): those are applied within applyDelayMs.
 */
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import * as syncProtocol from 'y-protocols/sync'
import { authorityPlugin } from '../../plugins/authority/index.js'
import type { YroomPlugin } from '../../server/index.js'
import { encodeRequest, ExtKind } from '../../src/shared/protocol/extension.js'
import { MESSAGE_SYNC } from '../../src/shared/protocol/message-types.js'
import { createModel, meta, model, trio, type Trio } from '../authority/trio.js'
import { RawClient, startServer, until, type TestServer } from '../helpers.js'

let t: Trio | null = null
let s: TestServer | null = null
const raws: RawClient[] = []
afterEach(async () => {
  for (const r of raws.splice(0)) await r.close()
  await t?.close()
  await s?.close()
  t = s = null
})

/** The largest batch applied so far (upper bound of the smallest histogram bucket holding it). */
async function largestBatch(server: TestServer): Promise<number> {
  const { values } = await server.server.metrics.updateBatchSize.get()
  const count = values.find((v) => v.metricName === 'yroom_update_batch_size_count')!.value
  const buckets = values.filter((v) => v.metricName === 'yroom_update_batch_size_bucket' && v.labels.le !== '+Inf')
  // The first bucket that holds every observation bounds the largest; the one before it does not.
  const full = buckets.findIndex((b) => b.value === count)
  return full <= 0 ? 1 : Number(buckets[full - 1].labels.le) + 1
}

function eachReplica(fn: (doc: Y.Doc) => void): void {
  t!.replicas().forEach(fn)
}

describe('batched application of updates (one transaction per batch)', () => {
  it('judges each update of a batch on its own: the offender is rolled back, the others land', async () => {
    t = await trio()
    createModel(t.owner.doc, 'a', { x: 1 })
    await t.converge()
    // One synchronous block: four updates from three connections.
    model(t.owner.doc, 'a').set('x', 2)
    model(t.offender.doc, 'a').set('y', 'rejected-write') // a token no client id can contain
    createModel(t.offender.doc, 'b', { z: 3 })
    createModel(t.observer.doc, 'c', { w: 4 })
    await t.converge()
    expect(await largestBatch(t.s)).toBeGreaterThanOrEqual(3)
    eachReplica((d) => {
      expect(model(d, 'a').get('x')).toBe(2)
      expect(model(d, 'a').has('y')).toBe(false)
      expect(model(d, 'b').get('z')).toBe(3)
      expect(model(d, 'c').get('w')).toBe(4)
    })
    expect(t.seen.some((v) => v.includes('rejected-write'))).toBe(false)
    const rejected = await t.s.server.metrics.rejectedChanges.get()
    expect(rejected.values.reduce((n, v) => n + v.value, 0)).toBe(1)
  })

  it("a rejected write and the owner's write of the same key in one batch: the owner's value wins", async () => {
    // Whichever of the two the server applies first, the compensation of the offender's
    // write must restore the owner's accepted value, or the owner's write must be re-asserted.
    for (const ids of [{ owner: (1 << 21) + 7, offender: 0xfffffff0 }, { owner: 0xfffffff0, offender: (1 << 21) + 7 }]) {
      t = await trio({}, ids)
      createModel(t.owner.doc, 'a', { x: 1 })
      await t.converge()
      model(t.offender.doc, 'a').set('x', 666)
      model(t.owner.doc, 'a').set('x', 2)
      await t.converge()
      expect(await largestBatch(t.s)).toBeGreaterThanOrEqual(2)
      eachReplica((d) => expect(model(d, 'a').get('x')).toBe(2))
      // Server writes (compensation, re-assertion) stay under the room's bound server id.
      const room = t.s.server.rooms.get(t.room)!
      expect(room.serverClientIds.has(room.doc.clientID)).toBe(true)
      for (const c of [t.owner, t.offender]) expect(c.doc.clientID).toBe(c === t.owner ? ids.owner : ids.offender)
      await t.close()
      t = null
    }
  })

  it("a sync answer and a request see the connection's earlier updates of the same turn", async () => {
    const peek: YroomPlugin = {
      name: 'peek',
      requests: { peek: ({ room }) => ((room.doc.getMap('models').get('p') as Y.Map<unknown> | undefined)?.get('v') as string | undefined) ?? null },
    }
    s = await startServer({ plugins: [authorityPlugin(), peek], tickMs: 50 })
    const writer = await new RawClient(s.url, 'same-turn').sync()
    const reader = await new RawClient(s.url, 'same-turn').sync()
    raws.push(writer, reader)
    writer.hello()
    await until(() => writer.ext.some((m) => m.kind === ExtKind.WELCOME))
    // One synchronous block on one socket: an update, a request, and a sync step 1 that
    // asks for everything (an empty state vector).
    writer.doc.transact(() => {
      const m = new Y.Map<unknown>()
      const meta = new Y.Map<unknown>()
      meta.set('ownerID', writer.doc.clientID)
      m.set('$meta', meta)
      m.set('v', 'written')
      writer.doc.getMap('models').set('p', m)
    })
    writer.send(encodeRequest({ id: 1, method: 'peek', params: null }))
    const enc = encoding.createEncoder()
    encoding.writeVarUint(enc, MESSAGE_SYNC)
    syncProtocol.writeSyncStep1(enc, new Y.Doc())
    const stepsBefore = writer.framesOfType(MESSAGE_SYNC).length
    writer.send(encoding.toUint8Array(enc))

    await until(() => writer.ext.some((m) => m.kind === ExtKind.RESPONSE))
    const response = writer.ext.find((m) => m.kind === ExtKind.RESPONSE)!
    expect(response.body).toMatchObject({ id: 1, ok: true, result: 'written' })
    // The full-state answer carries the update: applied to an empty doc, it holds the value.
    await until(() => writer.framesOfType(MESSAGE_SYNC).length > stepsBefore)
    const answer = new Y.Doc()
    const frames = writer.framesOfType(MESSAGE_SYNC).slice(stepsBefore)
    for (const f of frames) {
      const dec = decoding.createDecoder(f)
      decoding.readVarUint(dec)
      syncProtocol.readSyncMessage(dec, encoding.createEncoder(), answer, null)
    }
    expect((answer.getMap('models').get('p') as Y.Map<unknown>).get('v')).toBe('written')
    // The other client gets it with the tick.
    await until(() => (reader.doc.getMap('models').get('p') as Y.Map<unknown> | undefined)?.get('v') === 'written')
  })

  it("a plugin that throws while judging: that update is undone whole, its sender's later ones dropped, the others land", async () => {
    const faulty: YroomPlugin = {
      name: 'faulty',
      onUpdate(ctx) {
        if (ctx.view.changes.some((c) => c.key === 'boom')) throw new Error('plugin bug')
      },
    }
    s = await startServer({ plugins: [authorityPlugin(), faulty], tickMs: 50 })
    const good = await new RawClient(s.url, 'faulty').sync()
    const bad = await new RawClient(s.url, 'faulty').sync()
    const watcher = await new RawClient(s.url, 'faulty').sync()
    raws.push(good, bad, watcher)
    // One synchronous block: the faulty plugin throws on bad's update only.
    bad.doc.transact(() => {
      bad.doc.getMap('m').set('boom', 1)
      bad.doc.getMap('m').set('with-boom', 2)
    })
    bad.doc.getMap('m').set('after-boom', 4) // a later update of the failed connection: dropped
    good.doc.getMap('m').set('fine', 3)
    await bad.closed // a failed update closes its connection, as a malformed one does
    await until(() => watcher.doc.getMap('m').get('fine') === 3)
    expect(await largestBatch(s)).toBeGreaterThanOrEqual(2)
    const room = s.server.rooms.get('faulty')!
    await room.flush()
    // Neither the server nor anyone it sends to keeps anything of the unjudged update.
    expect(room.doc.getMap('m').toJSON()).toEqual({ fine: 3 })
    await until(() => JSON.stringify(watcher.doc.getMap('m').toJSON()) === JSON.stringify({ fine: 3 }))
    const stored = new Y.Doc()
    for (const u of (await s.server.storage.load('faulty')).updates) Y.applyUpdate(stored, u)
    expect(stored.getMap('m').toJSON()).toEqual({ fine: 3 })
  })

  it('an update refused on arrival does not disturb the others of its turn', async () => {
    t = await trio()
    createModel(t.owner.doc, 'a', { x: 1 })
    await t.converge()
    // A raw client that writes under the owner's client id (identity spoofing) in the same
    // turn as the owner's own write: refused whole, the owner's write lands.
    const spoofDoc = new Y.Doc()
    Y.applyUpdate(spoofDoc, Y.encodeStateAsUpdate(t.owner.doc))
    spoofDoc.clientID = t.owner.doc.clientID // after the copy, which Yjs would take for a collision
    const spoof = await new RawClient(t.s.url, t.room, { doc: spoofDoc }).open()
    raws.push(spoof)
    spoof.hello(12345) // an extension client, so it is told why its update is refused
    await until(() => spoof.ext.some((m) => m.kind === ExtKind.WELCOME), { message: 'welcome' })
    // RawClient sends each local change as it happens: both in one synchronous block.
    spoofDoc.getMap('models').set('spoofed', 1)
    model(t.owner.doc, 'a').set('x', 2)
    await t.converge()
    await until(() => spoof.ext.some((m) => m.kind === ExtKind.ERROR), { message: 'error notice' })
    eachReplica((d) => {
      expect(model(d, 'a').get('x')).toBe(2)
      expect(d.getMap('models').has('spoofed')).toBe(false)
    })
  })

  describe('when updates are applied: at the tick, or within applyDelayMs when they might be rejected', () => {
    // A tick too long to fire during a test: ticks are ended by hand (room.flush()). Without
    // the adaptive tick, which would send a quiet room's changes at once.
    const options = { tickMs: 60_000, applyDelayMs: 1, adaptiveTick: false }
    const received = () => t!.s.server.metrics.updatesIn.value
    // Resolves once every timer of applyDelayMs (1 ms) set before now has fired: Node runs
    // timers of equal delay in the order they were set.
    const afterApplyDelay = () => new Promise((r) => setTimeout(r, 1))
    const tick = async () => {
      await t!.s.server.rooms.get(t!.room)!.flush()
      await t!.converge()
    }
    /** Makes a change and resolves once the server has received it (not necessarily applied). */
    async function send(change: () => void): Promise<void> {
      const n = received()
      change()
      await until(() => received() > n, { message: 'the server received the update' })
      await afterApplyDelay()
    }

    it("a client's changes to its own content wait for the tick; a write into another's model is rolled back at once", async () => {
      t = await trio(options)
      await send(() => createModel(t!.owner.doc, 'a', { x: 1 }))
      expect(t.serverDoc().getMap('models').has('a')).toBe(true) // a new model (in a root): applied at once
      await tick()
      await send(() => model(t!.owner.doc, 'a').set('x', 2))
      expect(model(t.serverDoc(), 'a').get('x')).toBe(1) // its own value: waits for the tick
      await tick()
      eachReplica((d) => expect(model(d, 'a').get('x')).toBe(2))
      // The offender's very first rejected write: it writes into the owner's model.
      model(t.offender.doc, 'a').set('y', 'first-offense')
      await until(() => !model(t!.offender.doc, 'a').has('y'), { message: 'the first offense rolled back without a tick' })
    })

    it('a client whose own content was taken over: its first rejected write waits for the tick, the next ones do not', async () => {
      t = await trio(options)
      await send(() => createModel(t!.offender.doc, 'b', { p: 1 }))
      await tick()
      await send(() => meta(t!.owner.doc, 'b').set('ownerID', t!.owner.doc.clientID)) // a takeover
      await tick()
      // The offender overwrites its own property, in a model now owned by another.
      await send(() => model(t!.offender.doc, 'b').set('p', 2))
      expect(model(t.offender.doc, 'b').get('p')).toBe(2) // not rolled back yet
      expect(model(t.serverDoc(), 'b').get('p')).toBe(1)
      await tick()
      eachReplica((d) => expect(model(d, 'b').get('p')).toBe(1))
      // Now under watch: another write inside its own content (a new key of the model it
      // created; 'p' now holds the server's compensation) is rolled back without a tick.
      model(t.offender.doc, 'b').set('q', 'second-offense')
      await until(() => !model(t!.offender.doc, 'b').has('q'), { message: 'the second offense rolled back without a tick' })
    })
  })
})
