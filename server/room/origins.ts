/**
 * An item's left and right origins must be neighbours in one list (SPEC §12: a crafted
 * update may not leave replicas disagreeing): the same type and, in a map, the same key.
 *
 * Yjs takes an item's parent from its left origin and walks right towards its right
 * origin. Given two in different places, the server and a client that integrate it from
 * the update put it in one place, and a late joiner that integrates it from the server's
 * encoding in another: the document differs from replica to replica (a late joiner lost a
 * whole owned model). Once integrated, such an item stays in the encoding even when
 * undone, so it is refused before anything of its update is applied. Two more shapes that
 * Yjs never writes are refused for the same reason:
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
 *
 * Cheap for what honest clients send: when the origins are already in the document, two
 * lookups. Only an update whose origins point into itself is decoded and resolved.
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

/** Refuses (before it is applied) an update with an item whose origins are not neighbours in a list. */
export function checkOrigins(doc: Y.Doc, update: Uint8Array, layout: UpdateLayout): void {
  const n = layout.neighbours
  if (n.length === 0) return
  const store = doc.store
  let resolveInUpdate = false
  for (let i = 0; i < n.length; i += 4) {
    const right = docItem(store, n[i + 2], n[i + 3])
    if (right === undefined) {
      resolveInUpdate = true
      continue
    }
    if (right !== null && right.parentSub !== null) fail('right origin lies in a map')
    if (n[i] < 0) continue
    const left = docItem(store, n[i], n[i + 1])
    if (left === undefined) resolveInUpdate = true
    else if (left === null || right === null) {
      if (left !== right) fail('origins are one collected, the other not')
    } else if (left.parent !== right.parent || left.parentSub !== right.parentSub) fail('left and right origins lie in different lists')
  }
  if (resolveInUpdate) checkWithinUpdate(doc, update)
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
    if (!(s instanceof Y.Item) || s.rightOrigin === null) continue
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
