/**
 * An item's left and right origins must be neighbours in one list (SPEC §12: a crafted
 * update may not leave replicas disagreeing): the same type and, in a map, the same key.
 *
 * Yjs takes an item's parent from its left origin and walks right towards its right
 * origin. Given two in different places, the server and a client that integrate it from
 * the update put it in one place, and a late joiner that integrates it from the server's
 * encoding in another: the document differs from replica to replica (a late joiner lost a
 * whole owned model). Once integrated, such an item stays in the encoding even when
 * undone, so it is refused before anything of its update is applied. More shapes that Yjs
 * never writes are refused for the same reason:
 *
 *  - A right origin in a map. Yjs writes a map value after the key's newest item, with no
 *    right origin; with one, which item ends up the key's value depends on the order in
 *    which replicas integrate the key's items (the server in arrival order, a late joiner
 *    by client id), and a late joiner or the clients can end up with another value than
 *    the server (an owned model replaced by a deleted copy).
 *  - One origin collected (a GC struct: it lay in a deleted type) and the other not. Yjs
 *    turns an item next to a collected one into a GC, so the server drops it; a replica
 *    that has not collected that type yet (the clients, while the tick that carries both
 *    the deletion and the item is applied; the server itself, reloading its log in one
 *    transaction) integrates it next to the other origin, where everyone would see it.
 *    Honest neighbours lie in one list, so they are collected together.
 *  - In a list, a right origin that is not right of the left one, or items between them
 *    that the item's author knew of (between()): the item's place then depends on which
 *    items are present when it is integrated, i.e. on the order of integration.
 *
 * Cheap for what honest clients send: when the origins are already in the document and
 * next to each other, a few lookups. Only an update whose origins point into itself is
 * decoded and resolved; its items with a right origin are checked again once integrated
 * (checkPlaced), where an invalid one is undone with the update (apply-update.ts).
 */
import * as Y from 'yjs'
import { findInUpdate, indexItems, type UpdateItems } from './nesting.js'
import { MalformedUpdate, type UpdateLayout } from '../codec/update-layout.js'

/** Where an item lies: its parent (a type, or a type the update creates, by its item) and map key. */
interface Place {
  parent: unknown
  key: string | null
}

const UNKNOWN: Place = { parent: null, key: null }
/** Collected content (a GC struct), or an item Yjs makes one (next to one, or in a collected type). */
const COLLECTED: Place = { parent: Symbol('collected'), key: null }

function docItem(store: Y.Doc['store'], client: number, clock: number): Y.Item | null | undefined {
  if (clock >= Y.getState(store, client)) return undefined // not in the document
  const item = Y.getItem(store, Y.createID(client, clock))
  return item instanceof Y.Item ? item : null // collected: Yjs turns its neighbours' items into GC
}

function same(a: Place, b: Place): boolean {
  return a.parent === b.parent && a.key === b.key
}

function fail(why: string): never {
  throw new MalformedUpdate(`an item's ${why}`)
}

/**
 * Struct hops the checks of one update may take walking between origins (between()): a
 * base and a share per item with a right origin. An honest item's origins are neighbours,
 * or a few concurrent inserts apart (once integrated, also the author's later inserts:
 * the automerge-perf trace as one sync step 2, 11,000 such items, walks 840,000 hops, in
 * 20 ms); only a crafted update needs more, and is refused rather than walked for as long
 * as it likes.
 */
const BETWEEN_STEPS_BASE = 1 << 20
const BETWEEN_STEPS_PER_ITEM = 256

function budgetFor(items: number): { steps: number } {
  return { steps: BETWEEN_STEPS_BASE + BETWEEN_STEPS_PER_ITEM * items }
}

/**
 * Refuses (before it is applied) an update with an item whose origins are not neighbours
 * in a list. Returns whether some of its items must be checked again once integrated
 * (checkPlaced): their origins, or items between them, are in the update itself.
 */
export function checkOrigins(doc: Y.Doc, update: Uint8Array, layout: UpdateLayout): boolean {
  const n = layout.neighbours
  if (n.length === 0) return false
  const store = doc.store
  const budget = budgetFor(n.length / 5)
  let resolveInUpdate = false
  for (let i = 0; i < n.length; i += 5) {
    const author = layout.sectionClients[n[i]]
    // A section the server already has: Yjs skips it (apply-update.ts, againstState).
    if (layout.sectionClocks[n[i]] < Y.getState(store, author)) continue
    const right = docItem(store, n[i + 3], n[i + 4])
    if (right === undefined) {
      resolveInUpdate = true
      continue
    }
    if (right !== null && right.parentSub !== null) fail('right origin lies in a map')
    const left = n[i + 1] < 0 ? NO_ORIGIN : docItem(store, n[i + 1], n[i + 2])
    if (left === undefined) resolveInUpdate = true
    else if (left === null || right === null) {
      if (left !== right && left !== NO_ORIGIN) fail('origins are one collected, the other not')
    } else {
      if (left !== NO_ORIGIN && (left.parent !== right.parent || left.parentSub !== right.parentSub)) fail('left and right origins lie in different lists')
      const origin = left === NO_ORIGIN ? null : Y.createID(n[i + 1], n[i + 2])
      // Every item of the author's in the document is older than this one.
      if (!between(left === NO_ORIGIN ? null : left, origin, right, Y.createID(n[i + 3], n[i + 4]), author, Infinity, budget)) fail(betweenFailure)
    }
  }
  if (resolveInUpdate) checkWithinUpdate(doc, update)
  return resolveInUpdate || layout.laterNeighbours
}

/**
 * Once the update is integrated: the items with a right origin among the structs it added
 * (`before`: each client's state before it) lie where their origins say, with nothing their
 * authors knew between them (between()). For the items checkOrigins could not place before
 * (origins or items between them in the update itself). `items`: how many items with a
 * right origin the update holds.
 */
export function checkPlaced(doc: Y.Doc, clients: Iterable<number>, before: Map<number, number>, items: number): void {
  const store = doc.store
  const budget = budgetFor(items)
  for (const client of clients) {
    const structs = store.clients.get(client)
    const from = before.get(client)!
    if (!structs || Y.getState(store, client) <= from) continue
    for (let i = Y.findIndexSS(structs, from); i < structs.length; i++) {
      const s = structs[i]
      if (!(s instanceof Y.Item) || s.rightOrigin === null) continue
      const right = Y.getItem(store, s.rightOrigin)
      const left = s.origin === null ? null : Y.getItem(store, s.origin)
      // Yjs made it a GC, or placed it in a map (refused before it was applied): nothing to check.
      if (!(right instanceof Y.Item) || (left !== null && !(left instanceof Y.Item)) || right.parentSub !== null) continue
      if (!between(left, s.origin, right, s.rightOrigin, client, s.id.clock, budget)) fail(betweenFailure)
    }
  }
}

const betweenFailure = 'origins have items between them that its author knew of'

/** Stands for "no left origin" in checkOrigins. */
const NO_ORIGIN = Symbol('no origin')

/**
 * Whether an item of `author` at clock `clock` (Infinity: later than every item of the
 * author's in the document) could have been written between `origin` (in struct `left`;
 * null: the list's start) and `rightOrigin` (in struct `right`) by a client that saw them
 * next to each other, as Yjs writes every item. The right origin must lie right of the
 * left one, and no item between them may be one its author knew of; the ones it surely
 * knew: those of the origins' clients up to the origins' clocks and the author's own older
 * ones (Yjs holds every client's items from clock 0 on), and the origins' own neighbours
 * (the left origin's right origin, the right origin's left origin). Whatever else lies
 * between was written concurrently, as Yjs's conflict resolution assumes.
 *
 * Why: Yjs orders concurrent items by their origins on the assumption that every item was
 * written between neighbours. An item that lies about it (an origin far to the left of
 * its right origin, with items its author knew of in between) lands where the items
 * present when it is integrated put it: the server integrates in arrival order, a late
 * joiner by client id, and the two end up with lists in different orders. The check
 * recognises the crafted item from what it depends on (which every replica has before
 * it): an item known to it lying between its origins shows itself through one of those
 * witnesses, the origins' own neighbours included, since the origins were themselves
 * written between neighbours.
 */
function between(left: Y.Item | null, origin: Y.ID | null, right: Y.Item, rightOrigin: Y.ID, author: number, clock: number, budget: { steps: number }): boolean {
  // The first struct after the left origin, and the first clock of it that lies after it.
  let s: Y.Item | null
  let from: number
  if (left === null || origin === null) {
    s = (right.parent as Y.AbstractType<any>)._start
    from = s === null ? 0 : s.id.clock
  } else if (origin.clock < left.id.clock + left.length - 1) {
    s = left
    from = origin.clock + 1
  } else {
    s = left.right
    from = s === null ? 0 : s.id.clock
  }
  // Neighbours: the common case, nothing between.
  if (s === right && from === rightOrigin.clock) return true
  const leftRight = left === null || origin === null ? null : left.rightOrigin
  const rightLeft = rightOrigin.clock > right.id.clock ? Y.createID(rightOrigin.client, rightOrigin.clock - 1) : right.origin
  for (; s !== null; s = s.right, from = s === null ? 0 : s.id.clock) {
    if (--budget.steps < 0) throw new MalformedUpdate('origins too far apart to check')
    const isRight = s === right
    if (isRight && rightOrigin.clock < from) return false // right of the right origin: crossed
    // Clocks [from, to) of s lie between the origins.
    const to = isRight ? rightOrigin.clock : s.id.clock + s.length
    const c = s.id.client
    if (to > from) {
      if (origin !== null && c === origin.client && from <= origin.clock) return false
      if (c === rightOrigin.client && from <= rightOrigin.clock) return false
      if (c === author && from < clock) return false
      if (leftRight !== null && leftRight.client === c && from <= leftRight.clock && leftRight.clock < to) return false
      if (rightLeft !== null && rightLeft.client === c && from <= rightLeft.clock && rightLeft.clock < to) return false
    }
    if (isRight) return true
  }
  return false
}

/** The full check, for an update whose items' origins point into the update itself. */
function checkWithinUpdate(doc: Y.Doc, update: Uint8Array): void {
  let structs: ReturnType<typeof Y.decodeUpdate>['structs']
  try {
    structs = Y.decodeUpdate(update).structs
  } catch (err) {
    throw new MalformedUpdate((err as Error).message)
  }
  const places = new Places(doc, indexItems(structs))
  for (const s of structs) {
    if (!(s instanceof Y.Item) || s.rightOrigin === null || s.id.clock < Y.getState(doc.store, s.id.client)) continue
    const right = places.of(s.rightOrigin)
    if (right !== UNKNOWN && right !== COLLECTED && right.key !== null) fail('right origin lies in a map')
    if (s.origin === null) continue
    const left = places.of(s.origin)
    if (left !== UNKNOWN && right !== UNKNOWN && !same(left, right)) {
      fail(left === COLLECTED || right === COLLECTED ? 'origins are one collected, the other not' : 'left and right origins lie in different lists')
    }
  }
}

/** Resolves where items lie, in the document or in the update (iteratively, memoized). */
class Places {
  private memo = new Map<Y.Item, Place>()

  constructor(
    private doc: Y.Doc,
    private items: UpdateItems,
  ) {}

  /** Where the item holding `id` lies; UNKNOWN when it refers to content no one has. */
  of(id: Y.ID): Place {
    const inDoc = docItem(this.doc.store, id.client, id.clock)
    if (inDoc) return { parent: inDoc.parent, key: inDoc.parentSub }
    if (inDoc === null) return COLLECTED
    const start = findInUpdate(this.items, id)
    return start === null ? UNKNOWN : this.ofUpdateItem(start)
  }

  private ofUpdateItem(start: Y.Item): Place {
    // Follow neighbours until an item whose place is known; every item on the way lies
    // where that one does (a neighbour shares its parent and key).
    const path: Y.Item[] = []
    const seen = new Set<Y.Item>()
    let place: Place = UNKNOWN
    for (let item: Y.Item | null = start; item !== null; ) {
      const known = this.memo.get(item)
      if (known) {
        place = known
        break
      }
      if (seen.has(item)) break // a cycle: nothing to resolve it with
      seen.add(item)
      path.push(item)
      const parent = item.parent as unknown
      if (typeof parent === 'string') {
        place = { parent: this.doc.share.get(parent) ?? `root:${parent}`, key: item.parentSub }
        break
      }
      if (parent instanceof Y.ID) {
        // A holder that is collected, or holds no type (its content was collected), makes a GC.
        const holderInDoc = docItem(this.doc.store, parent.client, parent.clock)
        if (holderInDoc) place = holderInDoc.content instanceof Y.ContentType ? { parent: holderInDoc.content.type, key: item.parentSub } : COLLECTED
        else place = holderInDoc === null ? COLLECTED : { parent: findInUpdate(this.items, parent) ?? UNKNOWN, key: item.parentSub }
        break
      }
      const neighbour = item.origin ?? item.rightOrigin
      if (neighbour === null) break
      const inDoc = docItem(this.doc.store, neighbour.client, neighbour.clock)
      if (inDoc !== undefined) {
        place = inDoc === null ? COLLECTED : { parent: inDoc.parent, key: inDoc.parentSub }
        break
      }
      item = findInUpdate(this.items, neighbour)
    }
    for (const p of path) this.memo.set(p, place)
    return place
  }
}
