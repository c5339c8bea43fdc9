import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { createModel, meta, model, trio, type Trio } from './trio.js'
import { until } from '../helpers.js'

let t: Trio
afterEach(async () => {
  await t?.close()
})

/**
 * The observer never saw any state containing `needle` as a whole token (client ids are
 * random 32-bit numbers: "666" may well be part of one).
 */
function neverSeen(needle: string): void {
  const token = new RegExp(`(?<![0-9A-Za-z])${needle}(?![0-9A-Za-z])`)
  expect(t.seen.some((s) => token.test(s))).toBe(false)
}

function eachReplica(fn: (doc: Y.Doc) => void): void {
  t.replicas().forEach(fn)
}

describe('authority rules (SPEC §4): owner, offender and observer', () => {
  it('owner edits its own model: accepted everywhere', async () => {
    t = await trio()
    createModel(t.owner.doc, 'a', { x: 1 })
    await t.converge()
    model(t.owner.doc, 'a').set('x', 2)
    await t.converge()
    eachReplica((d) => expect(model(d, 'a').get('x')).toBe(2))
  })

  it('rule 1: a non-owner property write is rolled back and never observed', async () => {
    t = await trio()
    createModel(t.owner.doc, 'a', { x: 1 })
    await t.converge()
    model(t.offender.doc, 'a').set('x', 666)
    expect(model(t.offender.doc, 'a').get('x')).toBe(666)
    await t.converge()
    eachReplica((d) => expect(model(d, 'a').get('x')).toBe(1))
    neverSeen('666')
    // The compensation is authored under the room's server id, which stays the same.
    const room = t.s.server.rooms.get(t.room)!
    expect(room.serverClientIds.has(room.doc.clientID)).toBe(true)
    expect(Y.getState(room.doc.store, room.doc.clientID)).toBeGreaterThan(0)
  })

  it("an owner's write made before it received a compensation of the same property still wins", async () => {
    // The compensation is placed after the offender's rejected item; Yjs then orders the
    // owner's concurrent write against the offender's by client id. Give the offender the
    // higher one: without the server re-asserting the owner's write, it would be lost.
    t = await trio({}, { owner: (1 << 21) + 7, offender: 0xfffffff0 })
    createModel(t.owner.doc, 'a', { x: 1 })
    await t.converge()
    t.owner.provider.disconnect()
    model(t.offender.doc, 'a').set('x', 666)
    await until(() => model(t.offender.doc, 'a').get('x') === 1)
    // The owner writes on its stale view, concurrently with the server's compensation.
    model(t.owner.doc, 'a').set('x', 2)
    t.owner.provider.connect()
    await t.converge()
    eachReplica((d) => expect(model(d, 'a').get('x')).toBe(2))
  })

  it('rule 1: a non-owner property delete is restored', async () => {
    t = await trio()
    createModel(t.owner.doc, 'a', { x: 'keep-me' })
    await t.converge()
    model(t.offender.doc, 'a').delete('x')
    await t.converge()
    eachReplica((d) => expect(model(d, 'a').get('x')).toBe('keep-me'))
    expect(t.seen.every((s) => s.includes('keep-me'))).toBe(true)
  })

  it('rule 1: edits inside a nested child model of an owned model are rolled back', async () => {
    t = await trio()
    const a = createModel(t.owner.doc, 'a')
    t.owner.doc.transact(() => {
      const child = new Y.Map<unknown>()
      child.set('y', 1)
      a.set('child', child)
    })
    await t.converge()
    ;(model(t.offender.doc, 'a').get('child') as Y.Map<unknown>).set('y', 666)
    await t.converge()
    eachReplica((d) => expect((model(d, 'a').get('child') as Y.Map<unknown>).get('y')).toBe(1))
    neverSeen('666')
  })

  it('rule 1: Y.Text inserts and deletes in an owned model are rolled back', async () => {
    t = await trio()
    const a = createModel(t.owner.doc, 'a')
    t.owner.doc.transact(() => a.set('text', new Y.Text('hello')))
    await t.converge()
    const text = model(t.offender.doc, 'a').get('text') as Y.Text
    text.insert(5, ' EVIL')
    text.delete(0, 1)
    await t.converge()
    eachReplica((d) => expect((model(d, 'a').get('text') as Y.Text).toString()).toBe('hello'))
    neverSeen('EVIL')
  })

  it('rule 1: Y.Array inserts and deletes in an owned model are rolled back', async () => {
    t = await trio()
    const a = createModel(t.owner.doc, 'a')
    t.owner.doc.transact(() => a.set('list', Y.Array.from([1, 2, 3])))
    await t.converge()
    const list = model(t.offender.doc, 'a').get('list') as Y.Array<number>
    list.insert(1, [666])
    list.delete(0, 1)
    await t.converge()
    eachReplica((d) => expect((model(d, 'a').get('list') as Y.Array<number>).toArray()).toEqual([1, 2, 3]))
    neverSeen('666')
  })

  it('rule 2: a non-owner removing an owned model from an unowned parent is rolled back', async () => {
    t = await trio()
    createModel(t.owner.doc, 'a', { x: 1, nested: 'n' })
    await t.converge()
    t.offender.doc.getMap('models').delete('a')
    expect(t.offender.doc.getMap('models').has('a')).toBe(false)
    await t.converge()
    eachReplica((d) => {
      expect(model(d, 'a').toJSON()).toEqual({ $meta: { ownerID: t.owner.doc.clientID }, x: 1, nested: 'n' })
    })
    expect(t.seen.every((s) => s.includes('"x":1'))).toBe(true)
  })

  it('rule 2: removing an unowned model is allowed', async () => {
    t = await trio()
    createModel(t.owner.doc, 'a', { x: 1 }, { ownerID: -1 })
    await t.converge()
    t.offender.doc.getMap('models').delete('a')
    await t.converge()
    eachReplica((d) => expect(d.getMap('models').has('a')).toBe(false))
  })

  it('rule 3: takeover of an owned model is allowed without preventOwnershipTakeover', async () => {
    t = await trio()
    createModel(t.owner.doc, 'a', { x: 1 })
    await t.converge()
    meta(t.offender.doc, 'a').set('ownerID', t.offender.doc.clientID)
    model(t.offender.doc, 'a').set('x', 2)
    await t.converge()
    eachReplica((d) => {
      expect(meta(d, 'a').get('ownerID')).toBe(t.offender.doc.clientID)
      expect(model(d, 'a').get('x')).toBe(2)
    })
    // Now the previous owner is the non-owner.
    model(t.owner.doc, 'a').set('x', 3)
    await t.converge()
    eachReplica((d) => expect(model(d, 'a').get('x')).toBe(2))
  })

  it('rule 3: takeover blocked by preventOwnershipTakeover on the model', async () => {
    t = await trio()
    createModel(t.owner.doc, 'a', { x: 1 }, { ownerID: t.owner.doc.clientID, preventOwnershipTakeover: true })
    await t.converge()
    meta(t.offender.doc, 'a').set('ownerID', t.offender.doc.clientID)
    model(t.offender.doc, 'a').set('x', 666)
    await t.converge()
    eachReplica((d) => {
      expect(meta(d, 'a').get('ownerID')).toBe(t.owner.doc.clientID)
      expect(model(d, 'a').get('x')).toBe(1)
    })
    neverSeen('666')
    neverSeen(String(t.offender.doc.clientID))
  })

  it('rule 3: takeover blocked by preventOwnershipTakeover on an ancestor', async () => {
    t = await trio()
    const a = createModel(t.owner.doc, 'a', {}, { ownerID: -1, preventOwnershipTakeover: true })
    t.owner.doc.transact(() => {
      const child = new Y.Map<unknown>()
      const m = new Y.Map<unknown>()
      m.set('ownerID', t.owner.doc.clientID)
      child.set('$meta', m)
      a.set('child', child)
    })
    await t.converge()
    const childMeta = (model(t.offender.doc, 'a').get('child') as Y.Map<unknown>).get('$meta') as Y.Map<unknown>
    childMeta.set('ownerID', t.offender.doc.clientID)
    await t.converge()
    eachReplica((d) => {
      const m = (model(d, 'a').get('child') as Y.Map<unknown>).get('$meta') as Y.Map<unknown>
      expect(m.get('ownerID')).toBe(t.owner.doc.clientID)
    })
  })

  it('rule 3: the owner clears ownership, then anyone may write', async () => {
    t = await trio()
    createModel(t.owner.doc, 'a', { x: 1 })
    await t.converge()
    meta(t.owner.doc, 'a').set('ownerID', -1)
    await t.converge()
    model(t.offender.doc, 'a').set('x', 2)
    await t.converge()
    eachReplica((d) => {
      expect(meta(d, 'a').get('ownerID')).toBe(-1)
      expect(model(d, 'a').get('x')).toBe(2)
    })
  })

  it('each write is judged by the meta as it stands when it arrives, however the meta changed since the last write', async () => {
    // Metas are cached across updates (server/room/meta-before.ts): every step writes
    // into the same model after its meta was changed by someone else.
    t = await trio()
    createModel(t.owner.doc, 'a', { x: 0 }, { ownerID: -1 })
    await t.converge()
    const write = async (value: number) => {
      model(t.offender.doc, 'a').set('x', value)
      await t.converge()
      return model(t.serverDoc(), 'a').get('x')
    }
    expect(await write(1)).toBe(1) // unowned
    meta(t.owner.doc, 'a').set('ownerID', t.owner.doc.clientID) // a client claims it
    await t.converge()
    expect(await write(2)).toBe(1)
    meta(t.owner.doc, 'a').set('ownerID', -1) // and clears it
    await t.converge()
    expect(await write(3)).toBe(3)
    await t.s.server.rooms.edit(t.room, (doc) => (doc.getMap('models').get('a') as Y.Map<Y.Map<unknown>>).get('$meta')!.set('ownerID', 0))
    await t.converge()
    expect(await write(4)).toBe(3) // the server took it
    await t.s.server.rooms.edit(t.room, (doc) => (doc.getMap('models').get('a') as Y.Map<Y.Map<unknown>>).get('$meta')!.delete('ownerID'))
    await t.converge()
    expect(await write(5)).toBe(5) // ownerID deleted: unowned
    await t.s.server.rooms.edit(t.room, (doc) => {
      const fresh = new Y.Map<unknown>()
      fresh.set('ownerID', t.owner.doc.clientID)
      ;(doc.getMap('models').get('a') as Y.Map<unknown>).set('$meta', fresh)
    })
    await t.converge()
    expect(await write(6)).toBe(5) // a whole new $meta, owned by the owner
    eachReplica((d) => expect(model(d, 'a').get('x')).toBe(5))
  })

  it('rule 3: claiming for another client id is rejected', async () => {
    t = await trio()
    createModel(t.owner.doc, 'a', { x: 1 }, { ownerID: -1 })
    await t.converge()
    meta(t.offender.doc, 'a').set('ownerID', t.observer.doc.clientID)
    await t.converge()
    eachReplica((d) => expect(meta(d, 'a').get('ownerID')).toBe(-1))
    neverSeen(String(t.observer.doc.clientID))
  })

  it('rule 5: creating a model owned by another client id is rejected', async () => {
    t = await trio()
    createModel(t.offender.doc, 'forged', { x: 1 }, { ownerID: t.owner.doc.clientID })
    createModel(t.offender.doc, 'mine', { x: 1 })
    await t.converge()
    eachReplica((d) => {
      expect(d.getMap('models').has('forged')).toBe(false)
      expect(meta(d, 'mine').get('ownerID')).toBe(t.offender.doc.clientID)
    })
    neverSeen('forged')
  })

  it('rule 7: writes to $room and to server-owned models are rejected', async () => {
    t = await trio()
    await t.s.server.rooms.edit(t.room, (doc) => {
      doc.getMap('$room').set('motd', 'hello')
      const m = new Y.Map<unknown>()
      const mm = new Y.Map<unknown>()
      mm.set('ownerID', 0)
      m.set('$meta', mm)
      m.set('score', 10)
      doc.getMap('models').set('server', m)
    })
    await t.converge()
    t.offender.doc.getMap('$room').set('motd', 'pwned')
    model(t.offender.doc, 'server').set('score', 9999)
    meta(t.offender.doc, 'server').set('ownerID', t.offender.doc.clientID)
    await t.converge()
    eachReplica((d) => {
      expect(d.getMap('$room').get('motd')).toBe('hello')
      expect(model(d, 'server').get('score')).toBe(10)
      expect(meta(d, 'server').get('ownerID')).toBe(0)
    })
    neverSeen('9999')
  })

  it('rule 4: collection may not change after creation; other meta fields follow rule 1', async () => {
    t = await trio()
    createModel(t.owner.doc, 'set', {}, { ownerID: -1, collection: 'set' })
    createModel(t.owner.doc, 'owned', {}, { ownerID: t.owner.doc.clientID })
    await t.converge()
    meta(t.owner.doc, 'set').set('collection', 'array')
    meta(t.offender.doc, 'owned').set('destroyWhenOwnerOrLastClientLeaves', true)
    await t.converge()
    eachReplica((d) => {
      expect(meta(d, 'set').get('collection')).toBe('set')
      expect(meta(d, 'owned').has('destroyWhenOwnerOrLastClientLeaves')).toBe(false)
    })
  })

  it('rule 6: a RealtimeArray is append-only', async () => {
    t = await trio()
    const arr = createModel(t.owner.doc, 'arr', {}, { ownerID: -1, collection: 'array' })
    t.owner.doc.transact(() => arr.set('items', Y.Array.from(['a', 'b'])))
    await t.converge()
    const items = model(t.offender.doc, 'arr').get('items') as Y.Array<string>
    items.push(['c'])
    await t.converge()
    items.delete(0, 1)
    items.insert(0, ['front'])
    await t.converge()
    eachReplica((d) => expect((model(d, 'arr').get('items') as Y.Array<string>).toArray()).toEqual(['a', 'b', 'c']))
    neverSeen('front')
  })

  it('concurrent claims: the first claim to reach the server wins, the other rolls back', async () => {
    t = await trio()
    createModel(t.owner.doc, 'a', { x: 1 }, { ownerID: -1 })
    await t.converge()
    // Both claim on the same view; the observer's claim is sent first.
    t.observer.provider.disconnect()
    t.offender.provider.disconnect()
    meta(t.observer.doc, 'a').set('ownerID', t.observer.doc.clientID)
    meta(t.offender.doc, 'a').set('ownerID', t.offender.doc.clientID)
    t.observer.provider.connect()
    const srvMeta = () => meta(t.serverDoc(), 'a').get('ownerID')
    await until(() => srvMeta() === t.observer.doc.clientID, { message: 'the first claim to be applied' })
    t.offender.provider.connect()
    await t.converge()
    eachReplica((d) => expect(meta(d, 'a').get('ownerID')).toBe(t.observer.doc.clientID))
  })

  it('offline edits: forbidden parts roll back, allowed parts of the same update survive', async () => {
    t = await trio()
    createModel(t.owner.doc, 'a', { x: 1 }, { ownerID: -1 })
    createModel(t.owner.doc, 'b', { y: 1 }, { ownerID: -1 })
    await t.converge()
    t.offender.provider.disconnect()
    // Meanwhile the owner claims 'a'.
    meta(t.owner.doc, 'a').set('ownerID', t.owner.doc.clientID)
    // Offline, the offender edits both in one transaction.
    t.offender.doc.transact(() => {
      model(t.offender.doc, 'a').set('x', 666)
      model(t.offender.doc, 'b').set('y', 2)
    })
    t.offender.provider.connect()
    await t.converge()
    eachReplica((d) => {
      expect(model(d, 'a').get('x')).toBe(1)
      expect(model(d, 'b').get('y')).toBe(2)
      expect(meta(d, 'a').get('ownerID')).toBe(t.owner.doc.clientID)
    })
    neverSeen('666')
  })
})
