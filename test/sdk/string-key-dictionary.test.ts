import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { until } from '../helpers.js'
import { Game } from './models.js'
import { join, roomName, sdkServer } from './util.js'

describe('sdk: StringKeyDictionary', () => {
  it('insert resolves true once applied; nothing is visible before; the change is in the doc when it resolves', async () => {
    const s = await sdkServer()
    const name = roomName()
    const a = await join(s.url, name, { model: Game })
    const b = await join(s.url, name, { model: Game })
    const dict = a.datastore.root.names
    const added: string[] = []
    b.datastore.root.names.on('modelAdded', (e) => added.push(`${e.key}:${e.model.label}:${e.source}`))
    const pending = dict.insert('alice', { label: 'Alice' })
    expect(dict.has('alice')).toBe(false) // not until the server confirms
    expect(await pending).toBe(true)
    expect(dict.get('alice')!.label).toBe('Alice')
    expect(dict.versionOf('alice')).toBe(1)
    expect(dict.version).toBe(1)
    await until(() => added.length === 1)
    expect(added).toEqual(['alice:Alice:remote'])
    expect([...b.datastore.root.names.keys()]).toEqual(['alice'])
  })

  it('race: two clients insert the same key at once, exactly one wins', async () => {
    const s = await sdkServer()
    const name = roomName()
    const a = await join(s.url, name, { model: Game })
    const b = await join(s.url, name, { model: Game })
    const results = await Promise.all([
      a.datastore.root.names.insert('seat-1', { label: 'from a' }),
      b.datastore.root.names.insert('seat-1', { label: 'from b' }),
    ])
    expect(results.filter((r) => r)).toHaveLength(1)
    const winner = results[0] ? 'from a' : 'from b'
    await until(() => a.datastore.root.names.get('seat-1')?.label === winner && b.datastore.root.names.get('seat-1')?.label === winner)
    // The loser, now up to date, may retry (a replace) and succeed.
    const loser = results[0] ? b : a
    expect(await loser.datastore.root.names.insert('seat-1', { label: 'retry' })).toBe(true)
  })

  it('remove and clear check versions; a stale remove is refused', async () => {
    const s = await sdkServer()
    const name = roomName()
    const a = await join(s.url, name, { model: Game })
    const b = await join(s.url, name, { model: Game })
    const da = a.datastore.root.names
    const db = b.datastore.root.names
    expect(await da.insert('k', { label: 'v1' })).toBe(true)
    await until(() => db.has('k'))
    // B goes stale: A replaces k, then B's remove (made on the old version) is refused.
    b.disconnect()
    expect(await da.insert('k', { label: 'v2' })).toBe(true)
    const staleRemove = db.remove('k')
    b.connect()
    expect(await staleRemove).toBe(false)
    await until(() => db.get('k')?.label === 'v2')
    expect(await db.remove('k')).toBe(true)
    expect(db.has('k')).toBe(false)
    expect(await db.remove('k')).toBe(false) // absent
    expect(await da.insert('x', { label: '1' })).toBe(true)
    expect(await da.insert('y', { label: '2' })).toBe(true)
    await until(() => db.size === 2)
    expect(await db.clear()).toBe(true)
    expect(db.size).toBe(0)
    await until(() => da.size === 0)
    // A removed key keeps its version: an insert based on the pre-clear view is stale.
    expect(da.versionOf('x')).toBeGreaterThan(0)
  })

  it('direct CRDT writes to the dictionary are rejected and rolled back', async () => {
    const s = await sdkServer()
    const name = roomName()
    const a = await join(s.url, name, { model: Game })
    const b = await join(s.url, name, { model: Game })
    expect(await a.datastore.root.names.insert('legit', { label: 'ok' })).toBe(true)
    await until(() => b.datastore.root.names.has('legit'))
    const rejected: string[] = []
    b.on('rejected', (r) => rejected.push(r.reason))
    const map = b.datastore.root.names.yMap!
    map.set('sneaky', new Y.Map()) // plain Yjs write, bypassing the requests
    map.delete('legit')
    await until(() => rejected.length === 2 && b.datastore.root.names.has('legit') && !b.datastore.root.names.has('sneaky'))
    expect(rejected).toEqual(['string-key-dictionary', 'string-key-dictionary'])
    expect([...a.datastore.root.names.keys()]).toEqual(['legit'])
  })

  it('refuses a request from a client that may not write the dictionary', async () => {
    const s = await sdkServer()
    const name = roomName()
    const a = await join(s.url, name, { model: Game })
    const b = await join(s.url, name, { model: Game })
    expect(a.datastore.root.names.requestOwnership()).toBe(true)
    a.flush()
    await until(() => b.datastore.root.names.isOwnedRemotelySelf)
    expect(await b.datastore.root.names.insert('mine', { label: 'no' })).toBe(false)
    expect(await a.datastore.root.names.insert('mine', { label: 'yes' })).toBe(true)
  })
})
