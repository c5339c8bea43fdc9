/**
 * After a rollback re-creates deleted content (Yjs cannot undelete: the server writes
 * copies), nothing of the owner's is lost or corrupted (issue 20 case 3, issue 19's open
 * fuzzer class):
 * - the owner's undo (SDK) follows its content to the copies: no text that never existed;
 * - the owner's writes made before it saw the rollback are forwarded to the copies, its
 *   inserts and its deletions; a non-owner's are judged against the copies and refused.
 */
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import WebSocket from 'ws'
import { authorityPlugin } from '../../plugins/authority/index.js'
import { connect, type Room } from '../../src/sdk/index.js'
import { connectProvider, RawClient, startServer, until, type ProviderClient, type TestServer } from '../helpers.js'
import type { YroomPlugin } from '../../server/index.js'
import { createModel } from './trio.js'

let s: TestServer | null = null
const cleanups: Array<() => unknown> = []
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c()
  await s?.close()
  s = null
})

async function server(): Promise<TestServer> {
  s = await startServer({ plugins: [authorityPlugin()], tickMs: 10, logger: process.env.LOG ?? 'silent' })
  return s
}

async function stock(url: string, room: string): Promise<ProviderClient> {
  const c = await connectProvider(url, room)
  cleanups.push(() => c.destroy())
  return c
}

async function sdk(url: string, room: string): Promise<Room> {
  const r = connect({ url, room, WebSocket: WebSocket as never })
  cleanups.push(() => r.destroy())
  await until(() => r.status === 'connected', { message: 'SDK connected' })
  return r
}

const textOf = (doc: Y.Doc, key = 'a'): Y.Text | undefined => {
  // Not a model while an overwrite waits for its rollback.
  const model = doc.getMap('models').get(key)
  return model instanceof Y.Map ? (model.get('text') as Y.Text | undefined) : undefined
}
const str = (doc: Y.Doc, key = 'a'): string | undefined => textOf(doc, key)?.toString()

/** True once some deleted item of `text` knows the copy that continues it (the server told us). */
function knowsCopies(text: Y.Text): boolean {
  for (let i = text._start; i !== null; i = i.right) if (i.deleted && i.redone !== null) return true
  return false
}

describe('the owner after a rollback of someone else’s deletion', () => {
  it("SDK owner: undo after a rejected delete inside its text gives exactly the previous step, redo the next", async () => {
    const { url } = await server()
    const owner = await sdk(url, 'undo')
    const offender = await stock(url, 'undo')
    const observer = await stock(url, 'undo')
    const seen: string[] = []
    observer.doc.on('afterTransaction', () => seen.push(str(observer.doc) ?? ''))
    createModel(owner.doc, 'a', { text: new Y.Text() }, { ownerID: owner.doc.clientID, preventOwnershipTakeover: true })
    const text = textOf(owner.doc)!
    const um = new Y.UndoManager(text)
    text.insert(0, 'hello world')
    um.stopCapturing()
    text.insert(11, ' again')
    expect(um.undoStack.length).toBe(2)
    await until(() => str(offender.doc) === 'hello world again', { message: 'offender has the text' })

    textOf(offender.doc)!.delete(14, 3) // "ain": refused, re-created by the server
    await until(() => str(offender.doc) === 'hello world again' && knowsCopies(text), { message: 'rollback and the copies reached the owner' })
    expect(str(owner.doc)).toBe('hello world again')
    expect(um.undoStack.length).toBe(2)

    um.undo()
    expect(str(owner.doc)).toBe('hello world')
    for (const d of [offender.doc, observer.doc]) await until(() => str(d) === 'hello world', { message: 'undo reached everyone' })
    um.redo()
    expect(str(owner.doc)).toBe('hello world again')
    for (const d of [offender.doc, observer.doc]) await until(() => str(d) === 'hello world again', { message: 'redo reached everyone' })
    // Nobody ever saw text that never existed.
    expect(seen).not.toContain('hello worldain')
  })

  it('SDK owner: a remote cursor (relative position) in restored text follows it to the copy', async () => {
    const { url } = await server()
    const owner = await sdk(url, 'cursor')
    const offender = await stock(url, 'cursor')
    createModel(owner.doc, 'a', { text: new Y.Text() }, { ownerID: owner.doc.clientID, preventOwnershipTakeover: true })
    const text = textOf(owner.doc)!
    text.insert(0, 'hello world again')
    const cursor = Y.createRelativePositionFromTypeIndex(text, 15) // inside "ain"
    await until(() => str(offender.doc) === 'hello world again')
    textOf(offender.doc)!.delete(12, 5) // "again"
    await until(() => knowsCopies(text), { message: 'the copies reached the owner' })
    expect(Y.createAbsolutePositionFromRelativePosition(cursor, owner.doc)?.index).toBe(15)
  })
})

describe('writes made before their authors saw a rollback', () => {
  /** The owner's model holds text "jj"; the owner goes offline; the offender replaces the text (refused). */
  async function setup(room: string) {
    const { url } = await server()
    const owner = await stock(url, room)
    const offender = await stock(url, room)
    const other = await stock(url, room)
    createModel(owner.doc, 'a', { text: new Y.Text('jj') })
    await until(() => str(offender.doc) === 'jj' && str(other.doc) === 'jj')
    owner.provider.disconnect()
    other.provider.disconnect()
    const before = textOf(offender.doc)
    ;(offender.doc.getMap('models').get('a') as Y.Map<unknown>).set('text', new Y.Text('EVIL'))
    await until(() => str(offender.doc) === 'jj' && textOf(offender.doc) !== before, { message: 'the replacement was rolled back as a copy' })
    return { owner, offender, other, serverDoc: () => s!.server.rooms.get(room)!.doc }
  }

  it("the owner's insert into its original text is forwarded to the copy", async () => {
    const { owner, offender, serverDoc } = await setup('fwd-insert')
    textOf(owner.doc)!.insert(1, 'af') // into the original, which the server has deleted
    owner.provider.connect()
    await until(() => str(serverDoc()) === 'jafj', { message: 'the server forwarded the write' })
    await until(() => str(offender.doc) === 'jafj' && str(owner.doc) === 'jafj', { message: 'everyone has it' })
  })

  it("the owner's deletion in its original text is forwarded to the copy", async () => {
    const { owner, offender, serverDoc } = await setup('fwd-delete')
    textOf(owner.doc)!.delete(0, 1)
    owner.provider.connect()
    await until(() => str(serverDoc()) === 'j', { message: 'the server forwarded the deletion' })
    await until(() => str(offender.doc) === 'j' && str(owner.doc) === 'j', { message: 'everyone has it' })
  })

  it("a non-owner's write into the original is judged against the copy: refused, never seen", async () => {
    const { owner, other, serverDoc } = await setup('fwd-refused')
    textOf(other.doc)!.insert(1, 'ZZ')
    owner.provider.connect()
    other.provider.connect()
    await until(() => other.provider.synced && owner.provider.synced)
    // The owner writes after: once it has arrived, the intruder's earlier write was judged.
    textOf(owner.doc)!.insert(2, '!')
    await until(() => str(serverDoc()) === 'jj!', { message: "the owner's write arrived" })
    await until(() => str(other.doc) === 'jj!' && str(owner.doc) === 'jj!')
  })
})

describe('writes into text whose characters a rollback re-created', () => {
  it("the owner's concurrent edits of characters someone else's refused deletion re-created land in the copies, in place", async () => {
    const { url } = await server()
    const owner = await stock(url, 'chars')
    const offender = await stock(url, 'chars')
    createModel(owner.doc, 'a', { text: new Y.Text('abcd') })
    await until(() => str(offender.doc) === 'abcd')
    owner.provider.disconnect()
    textOf(offender.doc)!.delete(0, 4) // refused: "abcd" re-created as server copies
    await until(() => str(offender.doc) === 'abcd' && str(s!.server.rooms.get('chars')!.doc) === 'abcd')
    textOf(owner.doc)!.delete(1, 2) // offline: "bc", in the originals
    textOf(owner.doc)!.insert(1, 'X')
    textOf(owner.doc)!.insert(2, 'Y') // a second transaction, anchored to the first
    textOf(owner.doc)!.insert(0, 'S') // at the start: only its right neighbour was re-created
    owner.provider.connect()
    const serverDoc = s!.server.rooms.get('chars')!.doc
    await until(() => str(serverDoc) === 'SaXYd', { message: 'the deletion was forwarded and the inserts re-anchored' })
    await until(() => str(owner.doc) === 'SaXYd' && str(offender.doc) === 'SaXYd')
  })
})

describe('writes placed next to re-created content after their authors saw it', () => {
  // A copy is placed just before its deleted original. A client that has seen the copy and
  // types right after it has the copy as its origin and the original as its right origin:
  // that write is where its author put it, and must stay there, also when the model is
  // re-created later (issue 19's fuzzer: list items and text swapped on every replica).
  for (const kind of ['text', 'list'] as const) {
    // A run of two (the insert's origin is its second half, split off) or one character
    // (the insert's origin is the very item that continues its right origin); in a model
    // as its owner wrote it, or one the server re-created (all its items are the server's:
    // UndoManager then re-creates the run before the insert).
    for (const [run, model] of [['bc', 'new'], ['b', 'new'], ['bc', 're-created'], ['b', 're-created']] as const) {
      it(`an insert right after a re-created "${run}" in a ${kind} stays after it (${model} model)`, async () => {
        const room = `after-copy-${kind}-${run}-${model}`
        const { url } = await server()
        const owner = await stock(url, room)
        const offender = await stock(url, room)
        const get = (d: Y.Doc) => (d.getMap('models').get('a') as Y.Map<unknown> | undefined)?.get(kind) as Y.Text | Y.Array<string> | undefined
        const show = (d: Y.Doc) => {
          const t = get(d)
          return t instanceof Y.Text ? t.toString() : t?.toArray().join('')
        }
        const serverDoc = () => s!.server.rooms.get(room)!.doc
        // Has everything the server wrote.
        const caughtUp = (d: Y.Doc) => Y.getState(d.store, serverDoc().clientID) === Y.getState(serverDoc().store, serverDoc().clientID)
        const rollback = async (write: () => void, message: string) => {
          const before = Y.getState(serverDoc().store, serverDoc().clientID)
          write()
          await until(() => Y.getState(serverDoc().store, serverDoc().clientID) > before && caughtUp(owner.doc) && caughtUp(offender.doc), { message })
        }
        createModel(owner.doc, 'a', { [kind]: kind === 'text' ? new Y.Text('abcd') : Y.Array.from(['a', 'b', 'c', 'd']) })
        await until(() => show(offender.doc) === 'abcd', { message: 'the offender has the model' })
        if (model === 're-created') await rollback(() => offender.doc.getMap('models').set('a', 'y'), 'the model was re-created')
        // Refused: re-created as a server run before the originals.
        await rollback(() => get(offender.doc)!.delete(1, run.length), 'the run was re-created')
        expect(show(owner.doc)).toBe('abcd')
        const t = get(owner.doc)!
        const at = 1 + run.length
        if (t instanceof Y.Text) t.insert(at, 'X')
        else t.insert(at, ['X'])
        if (t instanceof Y.Array) {
          // The case: after the copy, before the deleted original (Y.Text skips deleted items
          // and anchors to the original instead, which is re-anchored after its copy).
          let x = t._start
          while (x !== null && (x.deleted || x.content.getContent()[0] !== 'X')) x = x.right
          expect([x!.left!.id.client === serverDoc().clientID && !x!.left!.deleted, x!.right!.deleted]).toEqual([true, true])
        }
        const want = `a${run}X${run === 'b' ? 'cd' : 'd'}`
        await until(() => show(serverDoc()) === want, { message: `the server holds ${want}` })
        await until(() => show(owner.doc) === want && show(offender.doc) === want, { message: 'everyone has it' })

        // Then the whole model is removed (refused): re-created from what it holds, in order.
        // Its deleted originals still name their copies; followed while the list is
        // re-created, they would place the insert by its original's copy.
        await rollback(() => offender.doc.getMap('models').set('a', 'x'), 'the model was re-created')
        expect(show(serverDoc())).toBe(want)
        const late = await stock(url, room)
        expect(show(late.doc)).toBe(want)
        await until(() => show(owner.doc) === want && show(offender.doc) === want, { message: 'everyone has the re-created model' })
      })
    }
  }
})

describe('redirected writes cannot carry what the rules would refuse', () => {
  it('a new model claiming another client, written into a re-created container, is not forwarded', async () => {
    const { url } = await server()
    const owner = await stock(url, 'claim')
    const offender = await stock(url, 'claim')
    const intruder = await stock(url, 'claim')
    // An unowned container holding the owner's model: removing it is refused (rule 2).
    const box = new Y.Map<unknown>()
    owner.doc.getMap('models').set('box', box)
    box.set('inner', createDetached(owner.doc.clientID))
    await until(() => (intruder.doc.getMap('models').get('box') as Y.Map<unknown> | undefined)?.get('inner') !== undefined)
    intruder.provider.disconnect()
    offender.doc.getMap('models').delete('box') // refused: the box is re-created as a copy
    await until(() => owner.doc.getMap('models').get('box') !== box && owner.doc.getMap('models').get('box') !== undefined)
    // Offline, into the original box: a model "owned" by the owner.
    ;(intruder.doc.getMap('models').get('box') as Y.Map<unknown>).set('fake', createDetached(owner.doc.clientID))
    intruder.doc.getMap('models').set('after', 1)
    intruder.provider.connect()
    const serverDoc = s!.server.rooms.get('claim')!.doc
    await until(() => serverDoc.getMap('models').get('after') === 1 && owner.doc.getMap('models').get('after') === 1)
    for (const d of [serverDoc, owner.doc, offender.doc]) expect((d.getMap('models').get('box') as Y.Map<unknown>).has('fake')).toBe(false)
  })
})

/** A model map (not yet in a document) owned by `ownerID`. */
function createDetached(ownerID: number): Y.Map<unknown> {
  const m = new Y.Map<unknown>()
  const meta = new Y.Map<unknown>()
  meta.set('ownerID', ownerID)
  m.set('$meta', meta)
  m.set('x', 1)
  return m
}

describe('a stale reference after the rollback arrived', () => {
  it("a write through a type the owner saw removed is lost on its replica (Yjs); the copy keeps its value", async () => {
    const { url } = await server()
    const owner = await stock(url, 'stale')
    const offender = await stock(url, 'stale')
    const inner = new Y.Map<unknown>()
    createModel(owner.doc, 'box', { inner })
    inner.set('x', 1)
    await until(() => (offender.doc.getMap('models').get('box') as Y.Map<unknown> | undefined)?.get('inner') !== undefined)
    const before = owner.doc.getMap('models').get('box')
    offender.doc.getMap('models').delete('box') // refused: re-created as a copy
    const copy = (d: Y.Doc) => ((d.getMap('models').get('box') as Y.Map<unknown>).get('inner') as Y.Map<unknown>).toJSON()
    await until(() => owner.doc.getMap('models').get('box') !== before && owner.doc.getMap('models').get('box') !== undefined, { message: 'the owner has the copy' })
    // Yjs deletes and garbage-collects a write into a deleted type before sending it: what
    // arrives is an empty struct. It must not overwrite the copy's value.
    inner.set('x', 2)
    owner.doc.getMap('models').set('after', 1)
    const serverDoc = s!.server.rooms.get('stale')!.doc
    await until(() => serverDoc.getMap('models').get('after') === 1 && offender.doc.getMap('models').get('after') === 1)
    for (const d of [serverDoc, owner.doc, offender.doc]) expect(copy(d)).toEqual({ x: 1 })
  })
})

describe('a rollback and the owner’s write in one batch', () => {
  // The fuzzer's open class of issue 19: the offender removes the owner's model and the
  // owner writes into it before the removal was judged; both are applied in one batch, the
  // owner's write second. It must land in the copy the rollback re-created, not be lost.
  for (const removal of ['overwrite with a map', 'overwrite with a value', 'delete the key'] as const) {
    for (const edit of ['insert', 'delete'] as const) {
      it(`${removal}, then the owner's ${edit} in the same batch: the ${edit} lands in the copy`, async () => {
        const arrived: number[] = []
        // Updates that write (sync answers without structs do not count).
        const order: YroomPlugin = { name: 'arrival-order', beforeUpdate: ({ connection, update }) => void (update.byteLength > 2 && arrived.push(connection.id)) }
        // Long enough that both updates wait for one batch; the test waits on arrivals, not time.
        s = await startServer({ plugins: [authorityPlugin(), order], tickMs: 10_000, applyDelayMs: 10_000, logger: 'silent' })
        const room = 'same-batch'
        const owner = await new RawClient(s.url, room).sync()
        const offender = await new RawClient(s.url, room).sync()
        cleanups.push(() => owner.close(), () => offender.close())
        createModel(owner.doc, 'a', { text: new Y.Text('abc') }, { ownerID: owner.doc.clientID, preventOwnershipTakeover: true })
        const serverRoom = s.server.rooms.get(room)!
        await until(() => arrived.length === 1, { message: "the owner's model arrived" })
        await serverRoom.flush()
        await until(() => str(offender.doc) === 'abc', { message: 'the offender has the model' })
        arrived.length = 0

        const models = offender.doc.getMap('models')
        if (removal === 'overwrite with a map') models.set('a', new Y.Map())
        else if (removal === 'overwrite with a value') models.set('a', 'x')
        else models.delete('a')
        await until(() => arrived.length === 1, { message: "the offender's update arrived" })
        if (edit === 'insert') textOf(owner.doc)!.insert(3, 'd')
        else textOf(owner.doc)!.delete(1, 1)
        await until(() => arrived.length === 2, { message: "the owner's update arrived" })
        await serverRoom.flush()

        const want = edit === 'insert' ? 'abcd' : 'ac'
        expect(str(serverRoom.doc)).toBe(want)
        const late = await stock(s.url, room)
        expect(str(late.doc)).toBe(want)
        await until(() => str(owner.doc) === want && str(offender.doc) === want, { message: `owner ${str(owner.doc)}, offender ${str(offender.doc)}` })
      })
    }
  }
})

describe('a copy split while an update is judged', () => {
  it('a refused removal restores all of a re-created run, though mapping a deletion onto it split it', async () => {
    s = await server()
    const room = 'split-copy'
    const owner = await stock(s.url, room)
    const offender = await stock(s.url, room)
    createModel(owner.doc, 'a', { text: new Y.Text('bc') }, { ownerID: owner.doc.clientID, preventOwnershipTakeover: true })
    await until(() => str(offender.doc) === 'bc', { message: 'the offender has the model' })
    // The deletion of the original "b" alone (a delete set, no structs).
    const before = new Y.Doc()
    Y.applyUpdate(before, Y.encodeStateAsUpdate(offender.doc))
    let deleteB: Uint8Array | null = null
    before.once('update', (u: Uint8Array) => (deleteB = u))
    textOf(before)!.delete(0, 1)
    const serverDoc = () => s!.server.rooms.get(room)!.doc

    // Refused: the model comes back as a copy, its text "bc" one run of the server's.
    offender.doc.getMap('models').set('a', 'x')
    await until(() => str(serverDoc()) === 'bc' && textOf(serverDoc())!._start?.id.client === serverDoc().clientID, { message: 'the model was re-created' })
    await until(() => str(offender.doc) === 'bc' && textOf(offender.doc)!._start?.id.client === serverDoc().clientID, { message: 'the offender saw the copy' })
    // One crafted update overwrites the copy (refused: restored again) and deletes the
    // original "b", which the server maps onto the first character of the copy's run,
    // splitting it after the overwrite removed it whole.
    const crafted = new Y.Doc()
    Y.applyUpdate(crafted, Y.encodeStateAsUpdate(offender.doc))
    let overwrite: Uint8Array | null = null
    crafted.once('update', (u: Uint8Array) => (overwrite = u))
    crafted.getMap('models').set('a', 'y')
    const raw = await new RawClient(s.url, room).open()
    cleanups.push(() => raw.close())
    raw.sendUpdate(Y.mergeUpdates([overwrite!, deleteB!]))
    await until(() => Y.getState(serverDoc().store, crafted.clientID) > 0, { message: 'the update was applied' })
    expect(str(serverDoc())).toBe('bc')
    const late = await stock(s.url, room)
    expect(str(late.doc)).toBe('bc')
    await until(() => str(owner.doc) === 'bc', { message: `the owner holds ${str(owner.doc)}` })
  })
})
