import { describe, expect, it } from 'vitest'
import { until } from '../helpers.js'
import { Game, Player } from './models.js'
import { join, roomName, sdkServer } from './util.js'
import type { OwnerChange } from '../../src/index.js'

describe('sdk: ownership API', () => {
  it('requestOwnership / clearOwnership with ownerIDSelfDidChange on both clients', async () => {
    const s = await sdkServer()
    const name = roomName()
    const a = await join(s.url, name, { model: Game })
    const b = await join(s.url, name, { model: Game })
    const ta = a.datastore.root.tree
    const tb = b.datastore.root.tree
    const seenA: OwnerChange[] = []
    const seenB: OwnerChange[] = []
    ta.on('ownerIDSelfDidChange', (e) => seenA.push(e))
    tb.on('ownerIDSelfDidChange', (e) => seenB.push(e))
    expect(ta.isUnownedSelf).toBe(true)
    expect(ta.requestOwnership()).toBe(true)
    expect(ta.isOwnedLocallySelf).toBe(true)
    expect(seenA).toEqual([expect.objectContaining({ ownerID: a.clientID, previous: -1, source: 'local' })])
    await until(() => tb.ownerIDSelf === a.clientID)
    expect(tb.isOwnedRemotelySelf).toBe(true)
    expect(seenB).toEqual([expect.objectContaining({ ownerID: a.clientID, previous: -1, source: 'remote' })])
    // B may not clear someone else's ownership: fails fast, writes nothing.
    expect(tb.clearOwnership()).toBe(false)
    expect(ta.clearOwnership()).toBe(true)
    expect(ta.isUnownedSelf).toBe(true)
    await until(() => tb.isUnownedSelf)
    expect(seenB.map((e) => e.ownerID)).toEqual([a.clientID, -1])
  })

  it('hierarchy helpers on a 3-level tree with owners at different levels', async () => {
    const s = await sdkServer()
    const name = roomName()
    const a = await join(s.url, name, { model: Game })
    const b = await join(s.url, name, { model: Game })
    const c = await join(s.url, name, { model: Game })
    // A claims the leaf first; then B claims the top of the tree (allowed: rule 3 looks up, not down).
    expect(a.datastore.root.tree.mid.leaf.requestOwnership()).toBe(true)
    a.flush()
    await until(() => b.datastore.root.tree.mid.leaf.ownerIDSelf === a.clientID)
    expect(b.datastore.root.tree.requestOwnership()).toBe(true)
    b.flush()
    for (const r of [a, c]) await until(() => r.datastore.root.tree.ownerIDSelf === b.clientID)

    const [tree, mid, leaf] = [a.datastore.root.tree, a.datastore.root.tree.mid, a.datastore.root.tree.mid.leaf]
    // A's view
    expect([tree.ownerIDSelf, mid.ownerIDSelf, leaf.ownerIDSelf]).toEqual([b.clientID, -1, a.clientID])
    expect([tree.ownerIDInHierarchy, mid.ownerIDInHierarchy, leaf.ownerIDInHierarchy]).toEqual([b.clientID, b.clientID, b.clientID])
    expect(leaf.isOwnedLocallySelf).toBe(true)
    expect(leaf.isOwnedRemotelyInHierarchy).toBe(true)
    expect(leaf.isOwnedLocallyInHierarchy).toBe(false)
    expect(mid.isUnownedSelf).toBe(true)
    expect(mid.isUnownedInHierarchy).toBe(false)
    expect(mid.isOwnedRemotelyInHierarchy).toBe(true)
    expect(a.datastore.root.isUnownedSelf).toBe(true)
    expect(a.datastore.root.isUnownedInHierarchy).toBe(true)
    // B's view
    const bt = b.datastore.root.tree
    expect(bt.isOwnedLocallySelf).toBe(true)
    expect(bt.mid.isOwnedLocallyInHierarchy).toBe(true)
    expect(bt.mid.leaf.isOwnedRemotelySelf).toBe(true)
    expect(bt.mid.leaf.isOwnedLocallyInHierarchy).toBe(true)
    // C's view: everything remote
    const ct = c.datastore.root.tree
    expect([ct.isOwnedRemotelyInHierarchy, ct.mid.isOwnedRemotelyInHierarchy, ct.mid.leaf.isOwnedRemotelySelf]).toEqual([true, true, true])
    expect(ct.mid.isUnownedSelf).toBe(true)
    // C cannot claim mid under B's tree: fails fast locally.
    expect(ct.mid.requestOwnership()).toBe(false)
    expect(ct.mid.isUnownedSelf).toBe(true)
  })

  it('lifetime flags are readable and settable', async () => {
    const s = await sdkServer()
    const name = roomName()
    const a = await join(s.url, name)
    const b = await join(s.url, name)
    const p = a.datastore.instantiate(Player, { ownedByClient: true, destroyWhenOwnerOrLastClientLeaves: true })
    p.destroyWhenOwnerOrLastClientLeaves = false
    p.preventOwnershipTakeover = true
    await until(() => [...b.datastore.instancesOf(Player)].length === 1)
    const pb = [...b.datastore.instancesOf(Player)][0]
    await until(() => pb.preventOwnershipTakeover && !pb.destroyWhenOwnerOrLastClientLeaves)
    // Takeover prevented: B's request fails fast.
    expect(pb.requestOwnership()).toBe(false)
  })
})
