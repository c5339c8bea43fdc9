import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { until } from '../helpers.js'
import { Game } from './models.js'
import { join, roomName, sdkServer } from './util.js'

describe('sdk: RealtimeSet', () => {
  it('adds, removes, iterates, with modelAdded/modelRemoved on both sides', async () => {
    const s = await sdkServer()
    const name = roomName()
    const a = await join(s.url, name, { model: Game })
    const b = await join(s.url, name, { model: Game })
    const setA = a.datastore.root.players
    const setB = b.datastore.root.players
    const log: string[] = []
    setA.on('modelAdded', (e) => log.push(`a+${e.model.name}:${e.source}`))
    setA.on('modelRemoved', (e) => log.push(`a-${e.model.name}:${e.source}`))
    setB.on('modelAdded', (e) => log.push(`b+${e.model.name}:${e.source}`))
    setB.on('modelRemoved', (e) => log.push(`b-:${e.source}`))
    const ann = setA.add({ name: 'ann' })
    const bob = setA.add({ name: 'bob' })
    expect(setA.size).toBe(2)
    expect(setA.has(ann)).toBe(true)
    await until(() => setB.size === 2)
    expect(setB.toArray().map((p) => p.name).sort()).toEqual(['ann', 'bob'])
    const bobOnB = setB.toArray().find((p) => p.name === 'bob')!
    expect(setB.remove(bobOnB)).toBe(true)
    expect(setB.remove(bobOnB)).toBe(false)
    await until(() => setA.size === 1)
    expect(setA.has(bob)).toBe(false)
    expect(bob.isDeleted).toBe(true)
    // A removed model keeps its last values (what Normcore users read in modelRemoved).
    expect(bob.name).toBe('bob')
    expect(log).toEqual(['a+ann:local', 'a+bob:local', 'b+ann:remote', 'b+bob:remote', 'b-:local', 'a-bob:remote'])
  })
})

describe('sdk: RealtimeDictionary', () => {
  it('uint keys: add, replace, remove with events', async () => {
    const s = await sdkServer()
    const name = roomName()
    const a = await join(s.url, name, { model: Game })
    const b = await join(s.url, name, { model: Game })
    const events: string[] = []
    const db = b.datastore.root.slots
    db.on('modelAdded', (e) => events.push(`add ${e.key} ${e.model.label}`))
    db.on('modelReplaced', (e) => events.push(`replace ${e.key} ${e.model.label}`))
    db.on('modelRemoved', (e) => events.push(`remove ${e.key}`))
    const da = a.datastore.root.slots
    da.set(3, { label: 'three' })
    a.flush()
    await until(() => db.get(3)?.label === 'three')
    da.set(3, { label: 'drei' })
    a.flush()
    await until(() => db.get(3)?.label === 'drei')
    da.set(10, { label: 'ten' })
    expect(da.delete(3)).toBe(true)
    await until(() => db.has(10) && !db.has(3))
    expect([...db.keys()]).toEqual([10])
    expect(events).toEqual(['add 3 three', 'replace 3 drei', 'add 10 ten', 'remove 3'])
    expect(() => da.set(-1)).toThrow(TypeError)
    expect(() => da.set(1.5)).toThrow(TypeError)
  })
})

describe('sdk: RealtimeArray', () => {
  it('appends with modelAdded and index; offers no removal', async () => {
    const s = await sdkServer()
    const name = roomName()
    const a = await join(s.url, name, { model: Game })
    const b = await join(s.url, name, { model: Game })
    const added: Array<[number, string, string]> = []
    b.datastore.root.log.on('modelAdded', (e) => added.push([e.index, e.model.label, e.source]))
    a.datastore.root.log.add({ label: 'first' })
    a.datastore.root.log.add({ label: 'second' })
    await until(() => b.datastore.root.log.length === 2)
    expect(b.datastore.root.log.toArray().map((m) => m.label)).toEqual(['first', 'second'])
    expect(added).toEqual([
      [0, 'first', 'remote'],
      [1, 'second', 'remote'],
    ])
    expect('remove' in b.datastore.root.log).toBe(false)
  })

  it('a removal made with plain Yjs is rejected by the server and rolled back', async () => {
    const s = await sdkServer()
    const name = roomName()
    const a = await join(s.url, name, { model: Game })
    const b = await join(s.url, name, { model: Game })
    a.datastore.root.log.add({ label: 'keep me' })
    await until(() => b.datastore.root.log.length === 1)
    const events: string[] = []
    const log = b.datastore.root.log
    log.on('modelRemoved', (e) => events.push(`removed:${e.source}`))
    log.on('modelAdded', (e) => events.push(`added:${e.model.label}:${e.source}`))
    const rejected: string[] = []
    b.on('rejected', (r) => rejected.push(r.reason))
    log.yArray!.delete(0, 1) // bypasses the SDK: plain Yjs on the same document
    expect(log.length).toBe(0)
    await until(() => log.length === 1)
    expect(log.get(0)!.label).toBe('keep me')
    expect(rejected).toEqual(['append-only'])
    expect(events).toEqual(['removed:local', 'added:keep me:rollback'])
    // The other client never lost it.
    expect(a.datastore.root.log.get(0)!.label).toBe('keep me')
  })
})

describe('sdk: plain Y.Doc underneath', () => {
  it('the document stays reachable for editor bindings and plain Yjs code', async () => {
    const s = await sdkServer()
    const name = roomName()
    const a = await join(s.url, name, { model: Game })
    const b = await join(s.url, name, { model: Game })
    const text = a.datastore.root.notes
    expect(text).toBe(a.doc.getMap('root').get('notes'))
    a.doc.getMap('root').set('round', 9) // plain Yjs write, seen through the typed view
    expect(a.datastore.root.round).toBe(9)
    await until(() => b.datastore.root.round === 9)
    expect(b.doc.getMap('root').get('notes')).toBeInstanceOf(Y.Text)
  })
})
