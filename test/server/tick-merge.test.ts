/**
 * The update layout reader (server/codec/update-layout.ts) and the tick's concatenating merge
 * (server/codec/tick-merge.ts), against Yjs itself: the layout must agree with Y.parseUpdateMeta
 * on every update, refuse every truncation, and the merge must produce exactly the state
 * Y.mergeUpdates produces, however the tick's updates share clients.
 */
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { readUpdateLayout, MalformedUpdate } from '../../server/codec/update-layout.js'
import { inClientOrder, mergeTick } from '../../server/codec/tick-merge.js'
import { content, encodeUpdate } from '../fuzz/v1.js'
import { mulberry32 as rng } from '../helpers.js'


/** Values of every kind lib0's writeAny knows, nested. */
function anyValue(r: () => number, depth = 0): unknown {
  const k = Math.floor(r() * (depth > 2 ? 8 : 10))
  switch (k) {
    case 0: return null
    case 1: return r() < 0.5
    case 2: return Math.floor(r() * 1e6) - 5e5
    case 3: return r() * 1e9
    case 4: return 'ü€𝄞 text ' + Math.floor(r() * 1e6)
    case 5: return Math.fround(1.5)
    case 6: return new Uint8Array([1, 2, 3, Math.floor(r() * 255)])
    case 7: return 2 ** 40 + Math.floor(r() * 1000)
    case 8: return { a: anyValue(r, depth + 1), b: [anyValue(r, depth + 1), anyValue(r, depth + 1)] }
    default: return [anyValue(r, depth + 1), { nested: anyValue(r, depth + 1) }]
  }
}

/**
 * Clients editing one shared document through every kind of content (map values, nested
 * types, text with formatting and embeds, arrays, XML, subdocuments, deletions); returns
 * each edit's update in the order made.
 */
function randomHistory(seed: number, clients = 4, edits = 60): { updates: Uint8Array[]; docs: Y.Doc[] } {
  const r = rng(seed)
  const docs = Array.from({ length: clients }, (_, i) => {
    const d = new Y.Doc()
    d.clientID = 1000 + i * 7919
    return d
  })
  const updates: Uint8Array[] = []
  for (const d of docs) d.on('update', (u: Uint8Array, origin: unknown) => {
    if (origin !== 'sync') updates.push(u)
  })
  for (let e = 0; e < edits; e++) {
    const d = docs[Math.floor(r() * clients)]
    const pick = Math.floor(r() * 9)
    d.transact(() => {
      const map = d.getMap('m')
      const text = d.getText('t')
      const arr = d.getArray<unknown>('a')
      switch (pick) {
        case 0: map.set('k' + Math.floor(r() * 5), anyValue(r)); break
        case 1: map.delete('k' + Math.floor(r() * 5)); break
        case 2: {
          const inner = new Y.Map<unknown>()
          inner.set('x', anyValue(r))
          map.set('nested' + Math.floor(r() * 3), inner)
          break
        }
        case 3: text.insert(Math.floor(r() * (text.length + 1)), 'héllo 𝄞', r() < 0.5 ? { bold: true } : undefined); break
        case 4: if (text.length > 2) text.delete(Math.floor(r() * (text.length - 1)), 1); else text.insertEmbed(0, { img: 'x.png' }); break
        case 5: arr.insert(0, [anyValue(r), anyValue(r)]); break
        case 6: if (arr.length > 0) arr.delete(0, 1); else arr.push([new Y.Array()]); break
        case 7: {
          const frag = d.getXmlFragment('x')
          const el = new Y.XmlElement('p')
          el.insert(0, [new Y.XmlText('para')])
          frag.insert(0, [el])
          break
        }
        default: map.set('doc', new Y.Doc({ guid: 'sub-' + e })); break
      }
    })
    // Sometimes a replica catches up with the others (so later edits build on theirs).
    if (r() < 0.3) {
      const other = docs[Math.floor(r() * clients)]
      Y.applyUpdate(d, Y.encodeStateAsUpdate(other, Y.encodeStateVector(d)), 'sync')
    }
  }
  return { updates, docs }
}

const stateOf = (updates: Uint8Array[]): Y.Doc => {
  const d = new Y.Doc()
  for (const u of updates) Y.applyUpdate(d, u)
  return d
}
/** JSON with subdocuments by guid (a subdocument's own client id differs per replica). */
const plain = (v: unknown): unknown =>
  v instanceof Y.Doc ? `doc:${v.guid}` : Array.isArray(v) ? v.map(plain) : v !== null && typeof v === 'object' && !(v instanceof Uint8Array) ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)])) : v
const sameState = (a: Y.Doc, b: Y.Doc) => {
  expect(Y.encodeStateVector(a)).toEqual(Y.encodeStateVector(b))
  expect(plain(a.getMap('m').toJSON())).toEqual(plain(b.getMap('m').toJSON()))
  expect(a.getText('t').toDelta()).toEqual(b.getText('t').toDelta())
  expect(a.getArray('a').toJSON()).toEqual(b.getArray('a').toJSON())
  expect(a.getXmlFragment('x').toString()).toEqual(b.getXmlFragment('x').toString())
  // Equal delete sets: the same content is deleted on both.
  expect(Y.equalDeleteSets(Y.createDeleteSetFromStructStore(a.store), Y.createDeleteSetFromStructStore(b.store))).toBe(true)
}

describe('update layout', () => {
  it('finds the same clients and first clocks as Y.parseUpdateMeta, for every kind of content', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const { updates, docs } = randomHistory(seed)
      const all = [...updates, ...docs.map((d) => Y.encodeStateAsUpdate(d)), Y.mergeUpdates(updates)]
      for (const u of all) {
        const layout = readUpdateLayout(u)
        const meta = Y.parseUpdateMeta(u)
        expect(layout.structClients).toEqual(meta.from)
        expect(layout.deletesEnd).toBe(u.length)
        // Each section's end clock, where the layout knows it (not for non-ASCII text).
        layout.sectionClients.forEach((client, i) => {
          if (layout.sectionEndClocks[i] >= 0) expect(layout.sectionEndClocks[i]).toBe(meta.to.get(client) ?? layout.sectionClocks[i])
        })
      }
    }
  })

  it('tells whether an update touches content of another client (touchesOthers)', () => {
    const a = new Y.Doc()
    const b = new Y.Doc()
    a.clientID = 100
    b.clientID = 200
    const last = (d: Y.Doc, change: () => void): Uint8Array => {
      let u: Uint8Array | null = null
      const on = (x: Uint8Array) => (u = x)
      d.on('update', on)
      d.transact(change)
      d.off('update', on)
      Y.applyUpdate(d === a ? b : a, u!)
      return u!
    }
    const touches = (u: Uint8Array) => readUpdateLayout(u).touchesOthers
    // a's model, made directly in a root: a root is everyone's.
    expect(touches(last(a, () => {
      const m = new Y.Map<unknown>()
      a.getMap('models').set('ma', m)
      m.set('v', 1)
      m.set('list', new Y.Array())
    }))).toBe(true)
    const ma = () => a.getMap('models').get('ma') as Y.Map<unknown>
    expect(touches(last(a, () => ma().set('v', 2)))).toBe(false) // overwriting its own value
    expect(touches(last(a, () => ma().set('w', 1)))).toBe(false) // a new key in its own model
    expect(touches(last(a, () => (ma().get('list') as Y.Array<number>).push([1, 2])))).toBe(false)
    const mb = () => b.getMap('models').get('ma') as Y.Map<unknown>
    expect(touches(last(b, () => mb().set('x', 1)))).toBe(true) // a new key in a's model
    expect(touches(last(b, () => mb().set('v', 3)))).toBe(true) // overwriting a's value
    expect(touches(last(b, () => (mb().get('list') as Y.Array<number>).push([3])))).toBe(true) // after a's items
    expect(touches(last(a, () => ma().set('x', 2)))).toBe(true) // over b's value (b's item deleted)
    expect(touches(last(b, () => mb().delete('w')))).toBe(true) // deleting a's item only
    // Many sections (looked up in a set): each client overwriting its own value, merged.
    const many = Array.from({ length: 12 }, (_, i) => {
      const d = new Y.Doc()
      d.clientID = 1000 + i
      d.getMap('m').set(`k${i}`, 1)
      return d
    })
    const overwrites = many.map((d, i) => last(d, () => d.getMap('m').set(`k${i}`, 2)))
    expect(touches(Y.mergeUpdates(overwrites))).toBe(false)
    const outsider = new Y.Doc()
    outsider.clientID = 5
    outsider.getMap('m').set('o', 1)
    const deleteOutsider = last(outsider, () => outsider.getMap('m').delete('o'))
    expect(touches(Y.mergeUpdates([...overwrites, deleteOutsider]))).toBe(true)
  })

  it('refuses every truncation of an update and bytes that are not an update', () => {
    const { docs } = randomHistory(7)
    const u = Y.encodeStateAsUpdate(docs[0])
    for (let cut = 0; cut < u.length; cut++) {
      expect(() => readUpdateLayout(u.subarray(0, cut)), `cut at ${cut}`).toThrow(MalformedUpdate)
    }
    expect(() => readUpdateLayout(new Uint8Array([1, 1, 5, 0, 0x1f]))).toThrow(MalformedUpdate) // unknown content type
    // Two sections for one client (Yjs never writes that; applying it would drop the first).
    const one = new Y.Doc()
    one.getMap('m').set('a', 1)
    const body = Y.encodeStateAsUpdate(one).subarray(1, -1) // one section, without counts
    expect(() => readUpdateLayout(new Uint8Array([2, ...body, ...body, 0]))).toThrow(/two struct sections/)
    expect(() => readUpdateLayout(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]))).toThrow(MalformedUpdate)
    // A section count the bytes cannot hold is refused before anything is sized by it.
    expect(() => readUpdateLayout(new Uint8Array([0x80, 0x94, 0xeb, 0xdc, 0x03, 0, 0, 0]))).toThrow(/1000000000 sections cannot fit/)
  })
})

describe('tick merge', () => {
  it('yields the state Y.mergeUpdates yields, whether or not the updates share clients', () => {
    for (let seed = 1; seed <= 30; seed++) {
      const { updates } = randomHistory(seed, 2 + (seed % 5))
      const r = rng(seed * 31)
      // Cut the history into ticks of random length and merge each tick both ways.
      const ticksOurs: Uint8Array[] = []
      const ticksYjs: Uint8Array[] = []
      for (let i = 0; i < updates.length; ) {
        const n = 1 + Math.floor(r() * 8)
        const tick = updates.slice(i, i + n)
        i += n
        ticksOurs.push(mergeTick(tick.map((update) => ({ update, layout: r() < 0.5 ? readUpdateLayout(update) : null }))))
        ticksYjs.push(Y.mergeUpdates(tick))
      }
      for (const t of ticksOurs) {
        // Sections in descending client order, as Yjs writes them (its merge relies on it).
        const clients = readUpdateLayout(t).sectionClients
        expect(clients).toEqual([...clients].sort((x, y) => y - x))
      }
      // Yjs's own update utilities read the result: merging the ticks again loses nothing.
      sameState(stateOf([Y.mergeUpdates(ticksOurs)]), stateOf(updates))
      expect(Y.encodeStateVectorFromUpdate(Y.mergeUpdates(ticksOurs))).toEqual(Y.encodeStateVector(stateOf(updates)))
      sameState(stateOf(ticksOurs), stateOf(ticksYjs))
      sameState(stateOf(ticksOurs), stateOf(updates))
      // A replica that receives the ticks out of order (pending structs) converges too.
      sameState(stateOf([...ticksOurs].reverse()), stateOf(updates))
    }
  })

  it("joins one client's consecutive updates into one section without decoding them", () => {
    const d = new Y.Doc()
    const updates: Uint8Array[] = []
    d.on('update', (u: Uint8Array) => updates.push(u))
    d.getMap('m').set('a', 'x')
    d.getArray('l').insert(0, ['y', 2])
    d.getText('t').insert(0, 'plain ascii')
    d.getMap('m').set('a', 'z')
    // Shuffled: the layout's clocks put them back in order.
    const merged = mergeTick([updates[2], updates[0], updates[3], updates[1]].map((update) => ({ update, layout: null })))
    const layout = readUpdateLayout(merged)
    expect(layout.sectionClients).toEqual([d.clientID])
    expect(layout.sectionStructs[0]).toBe(updates.reduce((n, u) => n + readUpdateLayout(u).sectionStructs[0], 0))
    sameState(stateOf([merged]), d)
    // Not consecutive (a gap): Y.mergeUpdates decides, and the state is still right.
    const gap = mergeTick([updates[0], updates[2]].map((update) => ({ update, layout: null })))
    sameState(stateOf([gap, updates[1], updates[3]]), d)
  })

  it('concatenates updates of distinct clients without decoding them', () => {
    const a = new Y.Doc()
    const b = new Y.Doc()
    a.getMap('m').set('a', 1)
    b.getMap('m').set('b', 2)
    const ua = Y.encodeStateAsUpdate(a)
    const ub = Y.encodeStateAsUpdate(b)
    const merged = mergeTick([{ update: ua, layout: null }, { update: ub, layout: null }])
    // Two sections of one struct each, and nothing else re-encoded: sizes add up.
    expect(readUpdateLayout(merged).sectionClients.sort()).toEqual([a.clientID, b.clientID].sort())
    expect(merged.length).toBe(ua.length + ub.length - 2)
    expect(stateOf([merged]).getMap('m').toJSON()).toEqual({ a: 1, b: 2 })
  })

  it('keeps every section of an update whose sections are not in client order (Y.mergeUpdates would drop some)', () => {
    const text = (s: string, at: { root: string } | null, origin: { client: number; clock: number } | null = null) => ({ ...content.string(s), len: 0, origin, rightOrigin: null, parent: at, parentSub: null })
    // Client 1000 before client 5000: Yjs writes the higher client first.
    const u1 = encodeUpdate({
      sections: [
        { client: 1000, clock: 0, structs: [text('é', { root: 't' })] },
        { client: 5000, clock: 0, structs: [text('y', { root: 'u' })] },
      ],
      ds: [],
      trailing: new Uint8Array(0),
    })
    // Client 1000 again: its sections cannot be joined without decoding ('é'), so the merge
    // falls back to Y.mergeUpdates.
    const u2 = encodeUpdate({ sections: [{ client: 1000, clock: 1, structs: [text('x', null, { client: 1000, clock: 0 })] }], ds: [], trailing: new Uint8Array(0) })
    expect(stateOf([Y.mergeUpdates([u1, u2])]).getText('u').toJSON()).toBe('') // what the fallback did
    const merged = mergeTick([{ update: u1, layout: null }, { update: u2, layout: null }])
    sameState(stateOf([merged]), stateOf([u1, u2]))
    expect(stateOf([merged]).getText('u').toJSON()).toBe('y')
    const sorted = inClientOrder(u1, readUpdateLayout(u1))
    expect(readUpdateLayout(sorted).sectionClients).toEqual([5000, 1000])
    expect(sorted.length).toBe(u1.length)
    sameState(stateOf([sorted]), stateOf([u1]))
  })

  it('joins sections of a client across updates that also hold other clients (merged updates)', () => {
    const docs = [1, 2, 3].map((id) => {
      const d = new Y.Doc()
      d.clientID = id * 1000
      return d
    })
    const edits = docs.map((d) => {
      const out: Uint8Array[] = []
      d.on('update', (u: Uint8Array) => out.push(u))
      d.getMap('m').set(`k${d.clientID}`, 'first')
      d.getMap('m').set(`k${d.clientID}`, 'second')
      return out
    })
    // Two updates with two sections each; client 2000 is in both, its clocks consecutive.
    const u1 = Y.mergeUpdates([edits[0][0], edits[1][0]])
    const u2 = Y.mergeUpdates([edits[1][1], edits[2][0], edits[2][1]])
    const merged = mergeTick([{ update: u2, layout: null }, { update: u1, layout: null }])
    const layout = readUpdateLayout(merged)
    expect(layout.sectionClients).toEqual([3000, 2000, 1000])
    expect(layout.sectionStructs[1]).toBe(2) // client 2000's two writes joined into one section
    sameState(stateOf([merged]), stateOf([u1, u2]))
  })
})
