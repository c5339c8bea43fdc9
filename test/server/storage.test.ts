/** The storage contract, run against every implementation (in-memory, LevelDB, PostgreSQL). */
import { afterAll, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { MemoryStorage, type Storage } from '../../server/index.js'
import { backendCases, openStorage, withLeases, type Backend } from '../backends.js'

const cleanups: Array<() => Promise<void>> = []
afterAll(async () => {
  for (const c of cleanups.splice(0)) await c()
})

/** Fresh storage of `backend`, opened from its `--data` value. */
function opener(backend: Backend): () => Promise<Storage> {
  return async () => {
    const d = await backend.data()
    const s = withLeases(await openStorage(d.data))
    cleanups.push(async () => {
      await s.close().catch(() => undefined)
      await d.cleanup()
    })
    return s
  }
}

const bytes = (...b: number[]) => new Uint8Array(b)

describe.each([['memory', async (): Promise<Storage> => new MemoryStorage()] as const, ...backendCases.map(([name, b]) => [name, opener(b)] as const)])('%s storage', (_name, make) => {
  it('an unknown room loads empty', async () => {
    const s = await make()
    expect(await s.load('nothing')).toEqual({ updates: [], seq: 0 })
    expect(await s.size('nothing')).toBe(0)
  })

  it('appends in order with increasing sequence numbers; rooms are separate', async () => {
    const s = await make()
    expect(await s.append('a', [bytes(1), bytes(2)])).toBe(2)
    expect(await s.append('a', [bytes(3)])).toBe(3)
    expect(await s.append('ab', [bytes(9)])).toBe(1) // a name that extends another is another room
    const a = await s.load('a')
    expect(a.seq).toBe(3)
    expect(a.updates.map((u) => [...u])).toEqual([[1], [2], [3]])
    expect((await s.load('ab')).updates.map((u) => [...u])).toEqual([[9]])
    expect((await s.list()).sort()).toEqual(['a', 'ab'])
  })

  it('concurrent appends to one room never share a sequence number', async () => {
    const s = await make()
    const seqs = await Promise.all(Array.from({ length: 20 }, (_, i) => s.append('c', [bytes(i)])))
    expect(new Set(seqs).size).toBe(20)
    expect((await s.load('c')).updates).toHaveLength(20)
  })

  it('compact replaces entries up to `through` and keeps later ones', async () => {
    const s = await make()
    await s.append('r', [bytes(1), bytes(2), bytes(3)])
    await s.compact('r', bytes(7), 2)
    await s.append('r', [bytes(4)])
    const r = await s.load('r')
    expect(r.updates.map((u) => [...u])).toEqual([[7], [3], [4]])
    expect(r.seq).toBe(4)
    expect(await s.size('r')).toBe(3)
  })

  it('delete removes the log and the metadata', async () => {
    const s = await make()
    await s.append('d', [bytes(1)])
    await s.setMeta('d', 'k', bytes(5))
    expect([...(await s.getMeta('d', 'k'))!]).toEqual([5])
    expect(await s.getMeta('d', 'missing')).toBeUndefined()
    await s.delete('d')
    expect(await s.load('d')).toEqual({ updates: [], seq: 0 })
    expect(await s.getMeta('d', 'k')).toBeUndefined()
    expect(await s.list()).not.toContain('d')
    expect(await s.append('d', [bytes(2)])).toBe(1)
  })

  it('any number of writers may append Yjs updates without coordination; loading merges them', async () => {
    const s = await make()
    const docs = [new Y.Doc(), new Y.Doc(), new Y.Doc()]
    await Promise.all(
      docs.map(async (d, i) => {
        for (let k = 0; k < 5; k++) {
          const sv = Y.encodeStateVector(d)
          d.getMap('m').set(`${i}-${k}`, k)
          await s.append('shared', [Y.encodeStateAsUpdate(d, sv)])
        }
      }),
    )
    const loaded = new Y.Doc()
    Y.applyUpdate(loaded, Y.mergeUpdates((await s.load('shared')).updates))
    expect(loaded.getMap('m').size).toBe(15)
  })
})

describe.each(backendCases)('%s storage across reopen', (_name, backend) => {
  it('data and sequence numbers survive closing and reopening the directory', async () => {
    const d = await backend.data()
    cleanups.push(d.cleanup)
    const s1 = withLeases(await openStorage(d.data))
    await s1.append('room', [bytes(1), bytes(2)])
    await s1.setMeta('room', 'k', bytes(3))
    await s1.close()
    const s2 = withLeases(await openStorage(d.data))
    expect((await s2.load('room')).seq).toBe(2)
    expect(await s2.append('room', [bytes(4)])).toBe(3)
    expect([...(await s2.getMeta('room', 'k'))!]).toEqual([3])
    await s2.close()
  })
})
