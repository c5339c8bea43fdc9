import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { until } from '../helpers.js'
import { Game, Player, Vec3 } from './models.js'
import { join, roomName, sdkServer } from './util.js'
import type { ModelChange, PropertyChange } from '../../src/index.js'

describe('sdk: typed models', () => {
  it('reads defaults, writes through to the Y.Map, and syncs typed values between clients', async () => {
    const s = await sdkServer()
    const name = roomName()
    const a = await join(s.url, name, { model: Game })
    const b = await join(s.url, name, { model: Game })
    const ga = a.datastore.root
    expect(ga.title).toBe('untitled')
    expect(ga.round).toBe(0)
    ga.title = 'chess'
    ga.round = 3
    // A thin view: the data lives in the plain Y.Doc.
    expect(a.doc.getMap('root').get('title')).toBe('chess')
    const gb = b.datastore.root
    await until(() => gb.title === 'chess' && gb.round === 3)
    expect(() => {
      ;(ga as unknown as { round: unknown }).round = 'three'
    }).toThrow(TypeError)
  })

  it('binary, json, Y.Text and child model properties', async () => {
    const s = await sdkServer()
    const name = roomName()
    const a = await join(s.url, name, { model: Game })
    const b = await join(s.url, name, { model: Game })
    const p = a.datastore.root.players.add({ name: 'ann', position: { x: 1 } })
    p.avatar = new Uint8Array([1, 2, 3])
    p.tags = ['a', 'b']
    p.bio.insert(0, 'hello')
    p.position.y = 2
    expect(p.position.x).toBe(1)
    await until(() => b.datastore.root.players.size === 1)
    const pb = [...b.datastore.root.players][0]
    await until(() => pb.bio.toString() === 'hello' && pb.position.y === 2)
    expect(pb.name).toBe('ann')
    expect(pb.avatar).toEqual(new Uint8Array([1, 2, 3]))
    expect(pb.tags).toEqual(['a', 'b'])
    expect(pb.position.x).toBe(1)
    expect(pb.bio).toBeInstanceOf(Y.Text)
  })

  it('views are stable per Y.Map, and slot views follow their slot', async () => {
    const s = await sdkServer()
    const a = await join(s.url, roomName(), { model: Game })
    const root = a.datastore.root
    expect(a.datastore.root).toBe(root)
    expect(root.tree).toBe(root.tree)
    const p = root.players.add()
    expect([...root.players][0]).toBe(p)
    expect(root.tree.mid.leaf.value).toBe(0)
    root.tree.mid.leaf.value = 7
    expect(root.tree.mid.leaf.yMap).toBeInstanceOf(Y.Map)
    expect(a.doc.getMap('root').toJSON().tree.mid.leaf.value).toBe(7)
  })

  it('rejects property names that collide with the model API', async () => {
    const { defineModel, prop } = await import('../../src/index.js')
    expect(() => defineModel('Bad1', { on: prop.number() })).toThrow(/not allowed/)
    expect(() => defineModel('Bad2', { ownerIDSelf: prop.number() })).toThrow(/not allowed/)
    expect(() => defineModel('Bad3', { $x: prop.number() })).toThrow(/not allowed/)
  })
})

describe('sdk: change events', () => {
  it('fires property and model events for local changes at once and for remote changes after the update', async () => {
    const s = await sdkServer()
    const name = roomName()
    const a = await join(s.url, name, { model: Game })
    const b = await join(s.url, name, { model: Game })
    const localEvents: PropertyChange[] = []
    a.datastore.root.on('roundDidChange', (e) => localEvents.push(e))
    a.datastore.root.round = 1
    expect(localEvents).toEqual([expect.objectContaining({ key: 'round', value: 1, previous: 0, source: 'local' })])

    const gb = b.datastore.root
    await until(() => gb.round === 1)
    const remote: PropertyChange[] = []
    const modelEvents: ModelChange[] = []
    gb.on('roundDidChange', (e) => {
      // AfterRead: the whole update is applied when the first event fires.
      expect(gb.title).toBe('after')
      remote.push(e)
    })
    gb.on('change', (e) => modelEvents.push(e))
    a.datastore.transact(() => {
      a.datastore.root.round = 2
      a.datastore.root.title = 'after'
    })
    await until(() => remote.length === 1)
    expect(remote[0]).toMatchObject({ value: 2, previous: 1, source: 'remote' })
    expect(modelEvents).toHaveLength(1)
    expect(modelEvents[0].source).toBe('remote')
    expect(modelEvents[0].changes.map((c) => c.key).sort()).toEqual(['round', 'title'])
  })

  it('fires text and child events on the owning model, and unsubscribes', async () => {
    const s = await sdkServer()
    const name = roomName()
    const a = await join(s.url, name, { model: Game })
    const b = await join(s.url, name, { model: Game })
    const seen: string[] = []
    const off = b.datastore.root.on('notesDidChange', (e) => seen.push((e.value as Y.Text).toString()))
    const leaf: number[] = []
    b.datastore.root.tree.mid.leaf.on('valueDidChange', (e) => leaf.push(e.value))
    a.datastore.root.notes.insert(0, 'hi')
    a.datastore.root.tree.mid.leaf.value = 5
    await until(() => seen.length === 1 && leaf.length === 1)
    expect(seen).toEqual(['hi'])
    expect(leaf).toEqual([5])
    off()
    a.datastore.root.notes.insert(2, '!')
    a.datastore.root.tree.mid.leaf.value = 6
    await until(() => leaf.length === 2)
    expect(seen).toEqual(['hi'])
  })
})

describe('sdk: instantiate', () => {
  it('creates and claims in one update with lifetime flags, into the instance set by default', async () => {
    const s = await sdkServer()
    const name = roomName()
    const a = await join(s.url, name)
    const b = await join(s.url, name)
    const framesBefore = a.framesSent
    const me = a.datastore.instantiate(Player, { preventOwnershipTakeover: true, init: { name: 'me' } })
    expect(me.isOwnedLocallySelf).toBe(true)
    expect(me.ownerIDSelf).toBe(a.clientID)
    expect(me.preventOwnershipTakeover).toBe(true)
    expect(me.destroyWhenOwnerOrLastClientLeaves).toBe(true)
    a.flush()
    expect(a.framesSent).toBe(framesBefore + 1)
    await until(() => [...b.datastore.instancesOf(Player)].length === 1)
    const other = [...b.datastore.instancesOf(Player)][0]
    expect(other.name).toBe('me')
    expect(other.ownerIDSelf).toBe(a.clientID)
    expect(other.isOwnedRemotelySelf).toBe(true)
    expect(other.isOwnedLocallySelf).toBe(false)

    const v = a.datastore.instantiate(Vec3, { ownedByClient: false, destroyWhenOwnerOrLastClientLeaves: false })
    expect(v.isUnownedSelf).toBe(true)
    expect(v.destroyWhenOwnerOrLastClientLeaves).toBe(false)
    expect([...a.datastore.instancesOf(Vec3)]).toEqual([v])
  })

  it('instantiates into a typed collection', async () => {
    const s = await sdkServer()
    const a = await join(s.url, roomName(), { model: Game })
    const root = a.datastore.root
    const p = a.datastore.instantiate(Player, { in: root.players })
    expect(root.players.has(p)).toBe(true)
    const i = a.datastore.instantiate((await import('./models.js')).Item, { in: root.slots, key: 4, init: { label: 'x' } })
    expect(root.slots.get(4)).toBe(i)
    expect(i.isOwnedLocallySelf).toBe(true)
  })
})
