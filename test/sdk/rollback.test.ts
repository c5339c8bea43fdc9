/**
 * Rollbacks (§4 Rejection, §9): the local change shows at once, the server rejects it, and
 * the compensation fires the events again with the restored value, flagged 'rollback'.
 */
import { describe, expect, it } from 'vitest'
import { until } from '../helpers.js'
import { Game, Player } from './models.js'
import { join, roomName, sdkServer } from './util.js'
import type { OwnerChange, RejectedChange } from '../../src/index.js'

describe('sdk: rollback events', () => {
  it('a rejected property write rolls back with a rollback event; the observer never sees it', async () => {
    const s = await sdkServer()
    const name = roomName()
    const owner = await join(s.url, name, { model: Game })
    const offender = await join(s.url, name, { model: Game })
    const observer = await join(s.url, name, { model: Game })
    const p = owner.datastore.instantiate(Player, { in: owner.datastore.root.players, init: { score: 1 } })
    await until(() => offender.datastore.root.players.size === 1 && observer.datastore.root.players.size === 1)
    const victim = [...offender.datastore.root.players][0]
    const seenByObserver: number[] = []
    ;[...observer.datastore.root.players][0].on('scoreDidChange', (e) => seenByObserver.push(e.value))
    const events: Array<[number, string]> = []
    victim.on('scoreDidChange', (e) => events.push([e.value, e.source]))
    const rejected: RejectedChange[] = []
    offender.on('rejected', (r) => rejected.push(r))

    expect(victim.isOwnedRemotelySelf).toBe(true)
    victim.score = 99 // a write the server will refuse
    expect(victim.score).toBe(99) // instant
    await until(() => victim.score === 1)
    expect(events).toEqual([
      [99, 'local'],
      [1, 'rollback'],
    ])
    expect(rejected).toHaveLength(1)
    expect(rejected[0].reason).toBe('owned-by-another')
    expect(rejected[0].path).toEqual([...victim.path, 'score'])
    // The owner's later write still reaches the observer, which never saw 99.
    p.score = 2
    await until(() => [...observer.datastore.root.players][0].score === 2)
    expect(seenByObserver).toEqual([2])
  })

  it('a rejected set add and a rejected set remove roll back with modelRemoved / modelAdded', async () => {
    const s = await sdkServer()
    const name = roomName()
    const owner = await join(s.url, name, { model: Game })
    const offender = await join(s.url, name, { model: Game })
    const players = owner.datastore.root.players
    players.add({ name: 'kept' })
    expect(players.requestOwnership()).toBe(true)
    const theirs = offender.datastore.root.players
    await until(() => theirs.size === 1 && theirs.isOwnedRemotelySelf)

    const log: string[] = []
    theirs.on('modelAdded', (e) => log.push(`added ${e.model.name} ${e.source}`))
    theirs.on('modelRemoved', (e) => log.push(`removed ${e.model.name} ${e.source}`))
    theirs.add({ name: 'intruder' })
    expect(theirs.size).toBe(2)
    await until(() => theirs.size === 1)
    expect(log).toEqual(['added intruder local', 'removed intruder rollback'])

    log.length = 0
    const kept = [...theirs][0]
    expect(theirs.remove(kept)).toBe(true)
    expect(theirs.size).toBe(0)
    await until(() => theirs.size === 1)
    expect(log).toEqual(['removed kept local', 'added kept rollback'])
    expect([...theirs][0].name).toBe('kept')
    expect(players.size).toBe(1)
  })

  it('a rejected ownership request (stale claim) rolls back with ownerIDSelfDidChange', async () => {
    const s = await sdkServer()
    const name = roomName()
    const r1 = await join(s.url, name, { model: Game })
    const r2 = await join(s.url, name, { model: Game })
    // The stale claim must be the one Yjs's tie-break would keep (the higher client id):
    // then only the server's compare-and-set (§4 Concurrency) decides against it.
    const [a, b] = r1.clientID < r2.clientID ? [r1, r2] : [r2, r1]
    const tb = b.datastore.root.tree
    // B goes offline and claims; meanwhile A claims first at the server.
    b.disconnect()
    expect(tb.requestOwnership()).toBe(true)
    expect(tb.isOwnedLocallySelf).toBe(true)
    expect(a.datastore.root.tree.requestOwnership()).toBe(true)
    a.flush()
    await until(() => s.server.rooms.get(name)!.doc.getMap('root').toJSON().tree.$meta?.ownerID === a.clientID)

    const seen: OwnerChange[] = []
    tb.on('ownerIDSelfDidChange', (e) => seen.push(e))
    const rejected: string[] = []
    b.on('rejected', (r) => rejected.push(r.reason))
    b.connect()
    await until(() => tb.ownerIDSelf === a.clientID)
    expect(rejected).toEqual(['stale-ownership'])
    expect(seen).toEqual([expect.objectContaining({ ownerID: a.clientID, previous: b.clientID, source: 'rollback' })])
    expect(tb.isOwnedRemotelySelf).toBe(true)
    expect(a.datastore.root.tree.isOwnedLocallySelf).toBe(true)
  })
})
