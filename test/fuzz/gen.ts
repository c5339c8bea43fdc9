/**
 * Valid Yjs V1 updates produced by random edits on real Y.Docs: fresh content (maps, arrays,
 * text, XML, nested models with `$meta` ownership as in src/shared/layout.ts), edits made on an
 * attacker's view of the room (legal writes mixed with writes into honest owners' models,
 * claims, removals of containers that hold owned models), deep nesting and large values.
 * Every choice comes from the caller's seeded PRNG.
 */
import * as Y from 'yjs'
import type { Id } from './v1.js'

export type Rng = () => number

export const int = (rng: Rng, n: number): number => Math.floor(rng() * n)
export const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[int(rng, xs.length)]
export const chance = (rng: Rng, p: number): boolean => rng() < p

/** Weighted choice: `[weight, value]` pairs. */
export function weighted<T>(rng: Rng, table: ReadonlyArray<readonly [number, T]>): T {
  let total = 0
  for (const [w] of table) total += w
  let r = rng() * total
  for (const [w, v] of table) if ((r -= w) < 0) return v
  return table[table.length - 1][1]
}

/** Client ids an attacker may put in an update or an awareness message. */
export interface IdPool {
  own: number
  otherAttackers: readonly number[]
  honest: readonly number[]
}

export const HUGE_IDS = [2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, 2 ** 40 + 7] as const

export function pickClient(rng: Rng, pool: IdPool): number {
  return weighted<() => number>(rng, [
    [40, () => pool.own],
    [8, () => (pool.otherAttackers.length ? pick(rng, pool.otherAttackers) : pool.own)],
    [10, () => (pool.honest.length ? pick(rng, pool.honest) : pool.own)],
    [4, () => 0],
    [8, () => 1 + int(rng, 1 << 20)],
    [8, () => pick(rng, HUGE_IDS)],
    [22, () => (int(rng, 2 ** 32) >>> 0) || 7],
  ])()
}

/** A number to put where a clock or length goes. */
export function pickClock(rng: Rng, near = 0): number {
  return weighted<() => number>(rng, [
    [20, () => near],
    [20, () => near + 1 + int(rng, 5)],
    [10, () => Math.max(0, near - 1 - int(rng, 3))],
    [10, () => 0],
    [15, () => int(rng, 1000)],
    [10, () => pick(rng, [2 ** 31 - 1, 2 ** 32 - 1, 2 ** 32, 2 ** 52, 2 ** 53 - 1])],
    [15, () => near + 1000 + int(rng, 1_000_000)],
  ])()
}

// ---------------------------------------------------------------------------------------
// Values

const WEIRD_STRINGS = ['', '$meta', 'ownerID', '$room', 'models', '__proto__', 'constructor', '\u0000', '\ud800', '😈'.repeat(3), 'é']

export function randomString(rng: Rng, max = 12): string {
  if (chance(rng, 0.1)) return pick(rng, WEIRD_STRINGS)
  const n = int(rng, max + 1)
  let s = ''
  for (let i = 0; i < n; i++) {
    s += chance(rng, 0.9) ? String.fromCharCode(65 + int(rng, 26)) : String.fromCharCode(int(rng, 0x3000))
  }
  return s
}

/** A value a Y.Map or Y.Array accepts (lib0 `any`), sometimes odd. */
export function randomPrimitive(rng: Rng, pool: IdPool): unknown {
  return weighted<() => unknown>(rng, [
    [20, () => `EVIL:${randomString(rng)}`],
    [15, () => int(rng, 1000) - 500],
    [5, () => pickClient(rng, pool)],
    [5, () => rng() * 1e9],
    [4, () => null],
    [4, () => rng() < 0.5],
    [4, () => new Uint8Array(int(rng, 16)).map(() => int(rng, 256))],
    [4, () => ({ evil: randomString(rng), n: int(rng, 10) })],
    [3, () => [randomString(rng), int(rng, 9)]],
    [2, () => pick(rng, [NaN, Infinity, -Infinity, -0, 2 ** 53, -(2 ** 31)])],
    [1, () => BigInt(int(rng, 1 << 30))],
  ])()
}

// ---------------------------------------------------------------------------------------
// Fresh content: a new doc under a chosen client id

/** A new model with a `$meta` as src/shared/layout.ts describes (sometimes odd). */
export function newModel(rng: Rng, pool: IdPool, depth = 0): Y.Map<unknown> {
  const m = new Y.Map<unknown>()
  if (chance(rng, 0.8)) {
    const meta = new Y.Map<unknown>()
    if (chance(rng, 0.85)) meta.set('ownerID', weighted(rng, [[40, pool.own], [25, -1], [15, pool.honest.length ? pick(rng, pool.honest) : 0], [10, 0], [10, pickClient(rng, pool)]]))
    if (chance(rng, 0.3)) meta.set('preventOwnershipTakeover', chance(rng, 0.7))
    if (chance(rng, 0.3)) meta.set('destroyWhenOwnerOrLastClientLeaves', chance(rng, 0.5))
    if (chance(rng, 0.15)) meta.set('collection', pick(rng, ['set', 'array', 'dictionary', 'stringKeyDictionary', 'bogus', 7]))
    if (chance(rng, 0.05)) meta.set('version', int(rng, 5))
    m.set('$meta', chance(rng, 0.05) ? randomPrimitive(rng, pool) : meta)
  }
  const n = int(rng, 4)
  for (let i = 0; i < n; i++) m.set(pick(rng, ['x', 'n', 'q', 'items', randomString(rng, 4)]), randomValue(rng, pool, depth + 1))
  return m
}

/** A value to store: a primitive, or (less often at depth) a shared type with content. */
export function randomValue(rng: Rng, pool: IdPool, depth = 0): unknown {
  if (depth > 3 || chance(rng, 0.55)) return randomPrimitive(rng, pool)
  return weighted<() => unknown>(rng, [
    [40, () => newModel(rng, pool, depth)],
    [20, () => {
      const a = new Y.Array<unknown>()
      const n = int(rng, 4)
      for (let i = 0; i < n; i++) a.push([randomValue(rng, pool, depth + 1)])
      return a
    }],
    [20, () => new Y.Text(`EVIL${randomString(rng)}`)],
    [5, () => {
      const x = new Y.XmlFragment()
      const el = new Y.XmlElement(pick(rng, ['p', 'div', '', 'script']))
      el.setAttribute('a', randomString(rng))
      x.insert(0, [el, new Y.XmlText('EVILxml')])
      return x
    }],
  ])()
}

const ROOT_NAMES = ['models', 'models', 'models', '$room', 'list', 'text', 'other', '', 'skeleton'] as const

/** Random edits on a fresh doc whose client id is `clientID`; returns its whole state. */
export function freshUpdate(rng: Rng, pool: IdPool, clientID: number): Uint8Array {
  const doc = new Y.Doc({ gc: chance(rng, 0.5) })
  doc.clientID = clientID
  const ops = 1 + int(rng, 5)
  try {
    for (let i = 0; i < ops; i++) {
      doc.transact(() => {
        const name = chance(rng, 0.1) ? randomString(rng, 6) : pick(rng, ROOT_NAMES)
        const kind = name === 'list' ? 'array' : name === 'text' ? 'text' : chance(rng, 0.85) ? 'map' : pick(rng, ['array', 'text', 'xml'])
        try {
          if (kind === 'map') {
            const m = doc.getMap<unknown>(name)
            const key = pick(rng, ['h0', 'h1', 'h2', 'box0', 'arr0', 'a', 'b', 'x', '$meta', 'shared', randomString(rng, 5)])
            if (chance(rng, 0.15) && m.size > 0) m.delete(pick(rng, [...m.keys()]))
            else m.set(key, randomValue(rng, pool))
          } else if (kind === 'array') {
            const a = doc.getArray<unknown>(name)
            if (chance(rng, 0.2) && a.length > 0) a.delete(int(rng, a.length), 1)
            else a.insert(int(rng, a.length + 1), [randomValue(rng, pool)])
          } else if (kind === 'text') {
            const t = doc.getText(name)
            if (chance(rng, 0.2) && t.length > 0) t.delete(int(rng, t.length), 1 + int(rng, 3))
            else if (chance(rng, 0.2)) t.format(0, t.length + 1, { bold: true })
            else if (chance(rng, 0.1)) t.insertEmbed(int(rng, t.length + 1), { evil: 1 })
            else t.insert(int(rng, t.length + 1), `EVIL${randomString(rng)}`)
          } else {
            const x = doc.getXmlFragment(name)
            x.insert(0, [new Y.XmlText('EVIL'), new Y.XmlElement('b')])
          }
        } catch {
          // a root of another type under that name: nothing to do
        }
      })
    }
    return Y.encodeStateAsUpdate(doc)
  } finally {
    doc.destroy()
  }
}

// ---------------------------------------------------------------------------------------
// Edits on an attacker's view of the room (the honest owners' content, as a shadow doc has it)

/** Every shared type below `type` (maps first-class: the models), excluding nothing. */
function typesBelow(type: Y.AbstractType<any>, out: Array<Y.AbstractType<any>>, limit: number): void {
  const stack: Array<Y.AbstractType<any>> = [type]
  while (stack.length > 0 && out.length < limit) {
    const t = stack.pop()!
    out.push(t)
    for (const item of t._map.values()) {
      if (!item.deleted && item.content instanceof Y.ContentType) stack.push(item.content.type)
    }
    for (let item = t._start; item !== null; item = item.right) {
      if (!item.deleted && item.content instanceof Y.ContentType) stack.push(item.content.type)
    }
  }
}

/** Whether `m` (a model) names an honest owner. */
function ownerOf(m: Y.Map<unknown>): unknown {
  const meta = m.get('$meta')
  return meta instanceof Y.Map ? meta.get('ownerID') : undefined
}

/** One random edit on `view`; prefers honest owners' models. Throws are swallowed by the caller. */
function viewEdit(rng: Rng, view: Y.Doc, pool: IdPool): void {
  const all: Array<Y.AbstractType<any>> = []
  typesBelow(view.getMap('models'), all, 150)
  const honest = new Set(pool.honest)
  const owned = all.filter((t) => t instanceof Y.Map && honest.has(ownerOf(t as Y.Map<unknown>) as number))
  const inOwned = all.filter((t) => {
    for (let p: Y.AbstractType<any> | null = t; p !== null; p = (p._item?.parent as Y.AbstractType<any>) ?? null) {
      if (p instanceof Y.Map && honest.has(ownerOf(p) as number)) return true
    }
    return false
  })
  const target = weighted<() => Y.AbstractType<any>>(rng, [
    [30, () => (owned.length ? pick(rng, owned) : pick(rng, all))],
    [30, () => (inOwned.length ? pick(rng, inOwned) : pick(rng, all))],
    [30, () => pick(rng, all)],
    [10, () => view.getMap('models')],
  ])()
  if (target instanceof Y.Map) {
    const m = target as Y.Map<unknown>
    const meta = m.get('$meta')
    weighted<() => void>(rng, [
      [25, () => m.set(pick(rng, ['x', 'n', 'q', 'child', 'inner', 'list', 'text', randomString(rng, 4)]), randomValue(rng, pool))],
      [10, () => m.size > 0 && m.delete(pick(rng, [...m.keys()]))],
      [8, () => meta instanceof Y.Map && meta.set('ownerID', weighted(rng, [[50, pool.own], [20, -1], [15, pool.honest.length ? pick(rng, pool.honest) : 0], [15, 0]]))],
      [4, () => meta instanceof Y.Map && meta.set('preventOwnershipTakeover', chance(rng, 0.3))],
      [3, () => meta instanceof Y.Map && meta.delete(pick(rng, ['ownerID', 'preventOwnershipTakeover', 'collection']))],
      [3, () => meta instanceof Y.Map && meta.set(pick(rng, ['collection', 'destroyWhenOwnerOrLastClientLeaves', 'version']), randomPrimitive(rng, pool))],
      [5, () => {
        const nm = new Y.Map<unknown>()
        nm.set('ownerID', pool.own)
        m.set('$meta', nm)
      }],
      [12, () => {
        // Remove or replace the model itself through its parent (rule 2: a container holding another's model).
        const item = m._item
        if (item === null) return
        const parent = item.parent as Y.AbstractType<any>
        if (parent instanceof Y.Map && item.parentSub !== null) {
          if (chance(rng, 0.5)) parent.delete(item.parentSub)
          else parent.set(item.parentSub, chance(rng, 0.7) ? new Y.Map() : randomPrimitive(rng, pool))
        } else if (parent instanceof Y.Array) {
          const idx = parent.toArray().indexOf(m)
          if (idx >= 0) parent.delete(idx, 1)
        }
      }],
      [5, () => {
        // Replace the container above the model (the grandparent's key).
        const p = (m._item?.parent as Y.AbstractType<any>) ?? null
        const item = p?._item
        if (!item) return
        const gp = item.parent as Y.AbstractType<any>
        if (gp instanceof Y.Map && item.parentSub !== null) gp.set(item.parentSub, new Y.Map())
        else if (gp instanceof Y.Array) gp.delete(0, Math.min(gp.length, 1 + int(rng, 2)))
      }],
    ])()
  } else if (target instanceof Y.Array) {
    const a = target as Y.Array<unknown>
    if (chance(rng, 0.4) && a.length > 0) a.delete(int(rng, a.length), 1 + int(rng, Math.min(3, a.length)))
    else a.insert(int(rng, a.length + 1), [randomValue(rng, pool)])
  } else if (target instanceof Y.Text) {
    const t = target as Y.Text
    weighted<() => void>(rng, [
      [40, () => t.insert(int(rng, t.length + 1), `EVIL${randomString(rng, 4)}`)],
      [30, () => t.length > 0 && t.delete(int(rng, t.length), 1 + int(rng, 3))],
      [15, () => t.format(int(rng, t.length + 1), 1 + int(rng, 3), { bold: true })],
      [15, () => t.insertEmbed(int(rng, t.length + 1), { evil: 1 })],
    ])()
  } else if (target instanceof Y.XmlFragment) {
    target.insert(0, [new Y.XmlText('EVIL')])
  }
}

/** A transaction of 1..4 random edits on `view`; the update it produced (null when it did nothing). */
export function viewUpdate(rng: Rng, view: Y.Doc, pool: IdPool): Uint8Array | null {
  const captured: Uint8Array[] = []
  const capture = (u: Uint8Array, origin: unknown) => {
    if (origin !== 'shadow') captured.push(u)
  }
  view.on('update', capture)
  try {
    view.transact(() => {
      const n = 1 + int(rng, 4)
      for (let i = 0; i < n; i++) {
        try {
          viewEdit(rng, view, pool)
        } catch {
          // an edit Yjs refuses locally (wrong root type, index): skip it
        }
      }
    })
  } finally {
    view.off('update', capture)
  }
  if (captured.length === 0) return null
  return captured.length === 1 ? captured[0] : Y.mergeUpdates(captured)
}

/** A chain of `depth` nested shared types under `parent[key]` (in `doc`'s transaction). */
export function deepChain(rng: Rng, parent: Y.Map<unknown> | Y.Array<unknown>, key: string, depth: number): Y.AbstractType<any> {
  const mode = pick(rng, ['map', 'array', 'mixed', 'xml'])
  const make = (i: number): Y.AbstractType<any> => {
    if (mode === 'map' || (mode === 'mixed' && i % 2 === 0)) return new Y.Map()
    if (mode === 'xml') return new Y.XmlElement('d')
    return new Y.Array()
  }
  let cur: Y.AbstractType<any> = parent
  for (let i = 0; i < depth; i++) {
    const next = make(i)
    if (cur instanceof Y.Map) cur.set(key, next)
    else if (cur instanceof Y.Array) cur.push([next])
    else if (cur instanceof Y.XmlElement) cur.insert(0, [next as Y.XmlElement])
    else break
    cur = next
  }
  return cur
}

export const DEPTHS = [20, 64, 127, 128, 129, 130, 200, 500, 1000, 2000, 3000, 5000, 8000] as const

/** An update nesting `depth` shared types (under models, an honest model, or a fresh root). */
export function deepUpdate(rng: Rng, view: Y.Doc, pool: IdPool, depth: number): Uint8Array | null {
  const captured: Uint8Array[] = []
  const capture = (u: Uint8Array, origin: unknown) => {
    if (origin !== 'shadow') captured.push(u)
  }
  view.on('update', capture)
  try {
    view.transact(() => {
      const models = view.getMap<unknown>('models')
      const honest = [...models.values()].filter((v): v is Y.Map<unknown> => v instanceof Y.Map && pool.honest.includes(ownerOf(v) as number))
      const parent: Y.Map<unknown> | Y.Array<unknown> = weighted<() => Y.Map<unknown> | Y.Array<unknown>>(rng, [
        [50, () => models],
        [25, () => (honest.length ? pick(rng, honest) : models)],
        [15, () => view.getMap<unknown>(`deep${int(rng, 3)}`)],
        [10, () => view.getArray<unknown>('list')],
      ])()
      try {
        deepChain(rng, parent, `deep${pool.own % 97}`, depth)
      } catch {
        // a root of another type under that name
      }
    })
  } finally {
    view.off('update', capture)
  }
  if (captured.length === 0) return null
  return captured.length === 1 ? captured[0] : Y.mergeUpdates(captured)
}

/** A large value written over the same key again and again (the log grows, the document does not). */
export function bigValueUpdate(rng: Rng, view: Y.Doc, pool: IdPool): Uint8Array | null {
  const captured: Uint8Array[] = []
  const capture = (u: Uint8Array, origin: unknown) => {
    if (origin !== 'shadow') captured.push(u)
  }
  view.on('update', capture)
  try {
    const size = pick(rng, [20_000, 60_000, 100_000, 120_000])
    const value = chance(rng, 0.5) ? 'B'.repeat(size) : new Uint8Array(size).fill(int(rng, 256))
    view.getMap<unknown>('models').set(`big${pool.own % 7}`, value)
  } finally {
    view.off('update', capture)
  }
  return captured[0] ?? null
}

// ---------------------------------------------------------------------------------------
// Known ids: where mutated origins, parents and delete ranges point when they point at something

/** A random id of a struct in `doc` (sometimes inside a struct, past its first clock). */
export function randomKnownId(rng: Rng, doc: Y.Doc): Id | null {
  const clients = [...doc.store.clients.keys()]
  if (clients.length === 0) return null
  const client = pick(rng, clients)
  const structs = doc.store.clients.get(client)!
  if (structs.length === 0) return null
  const s = pick(rng, structs)
  return { client, clock: s.id.clock + int(rng, s.length) }
}

/** A random item of `doc` that holds a shared type (a possible parent). */
export function randomTypeItemId(rng: Rng, doc: Y.Doc): Id | null {
  const all: Array<Y.AbstractType<any>> = []
  typesBelow(doc.getMap('models'), all, 300)
  const items = all.map((t) => t._item).filter((i): i is Y.Item => i !== null)
  if (items.length === 0) return null
  const it = pick(rng, items)
  return { client: it.id.client, clock: it.id.clock }
}
