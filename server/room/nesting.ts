/**
 * The nesting limit (SPEC §12): how deep an update would nest shared types, found before
 * it is applied.
 *
 * Why before: Yjs deletes, garbage-collects and encodes nested types recursively. A
 * document thousands of levels deep overflows the stack in the middle of a transaction,
 * where nothing can be undone cleanly; an update that would nest past the limit is
 * therefore refused whole, nothing of it integrated.
 *
 * Depth: a root type is at depth 1, a type inside it at 2, and so on. A new item's type
 * lies in the type its parent id names, or (when the item has a neighbour) in the type
 * of that neighbour. Both may be in the document or in the update itself.
 *
 * Only updates that create types are read here (UpdateLayout.newTypes), so text, values
 * and deletions never pay for it.
 */
import * as Y from 'yjs'
import { Refusal } from '../plugin.js'
import { readUpdateLayout, type UpdateLayout } from '../codec/update-layout.js'

/** Items of the update by client, in clock order (each section is one run of clocks). */
export type UpdateItems = Map<number, Y.Item[]>

export function indexItems(structs: ReturnType<typeof Y.decodeUpdate>['structs']): UpdateItems {
  const byClient: UpdateItems = new Map()
  for (const s of structs) {
    if (!(s instanceof Y.Item)) continue
    let list = byClient.get(s.id.client)
    if (!list) byClient.set(s.id.client, (list = []))
    list.push(s)
  }
  return byClient
}

/** The update's item that holds clock `id.clock` of `id.client`, or null. */
export function findInUpdate(items: UpdateItems, id: Y.ID): Y.Item | null {
  const list = items.get(id.client)
  if (!list) return null
  let lo = 0
  let hi = list.length - 1
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1
    const it = list[mid]
    if (id.clock < it.id.clock) hi = mid - 1
    else if (id.clock >= it.id.clock + it.length) lo = mid + 1
    else return it
  }
  return null
}

/** Depth of a type of the document (a root is 1); counted upwards, never recursively. */
export function typeDepth(type: Y.AbstractType<any>): number {
  let d = 1
  for (let item = type._item; item !== null; item = (item.parent as Y.AbstractType<any>)._item) d++
  return d
}

/** Depth of the type the document's item `id` lies in (or, `inside`, of the type it holds); null if unknown. */
function depthInDoc(doc: Y.Doc, id: Y.ID, inside: boolean): number | null {
  if (id.clock >= Y.getState(doc.store, id.client)) return null
  const item = Y.getItem(doc.store, id)
  if (!(item instanceof Y.Item) || !(item.parent instanceof Y.AbstractType)) return null
  if (!inside) return typeDepth(item.parent)
  return item.content instanceof Y.ContentType ? typeDepth(item.content.type) : null
}

/**
 * Depth of the type each new item lies in, resolved through the chain of neighbours and
 * parents an update may build on itself (iteratively: a chain can be as long as the update).
 */
class DepthResolver {
  private depthOf = new Map<Y.Item, number | null>()

  constructor(
    private doc: Y.Doc,
    private items: UpdateItems,
  ) {}

  /** Depth of the type `item` lies in, or null when it refers to content no one has. */
  containerDepth(start: Y.Item): number | null {
    // Walk the references down to something known, then assign depths on the way back.
    const path: Array<{ item: Y.Item; add: number }> = []
    const onPath = new Set<Y.Item>()
    let base: number | null = null
    let item = start
    for (;;) {
      const known = this.depthOf.get(item)
      if (known !== undefined) {
        base = known
        break
      }
      if (onPath.has(item)) throw new Refusal('malformed-update', 'malformed update: items refer to each other in a cycle')
      onPath.add(item)
      const step = this.reference(item)
      if (step === null) {
        path.push({ item, add: 0 })
        base = null
        break
      }
      if ('depth' in step) {
        path.push({ item, add: 0 })
        base = step.depth
        break
      }
      path.push({ item, add: step.add })
      item = step.next
    }
    // path[i]'s depth = path[i+1]'s depth + path[i].add; the last one's is `base`.
    let depth = base
    for (let i = path.length - 1; i >= 0; i--) {
      const p = path[i]
      if (depth !== null) depth += p.add
      this.depthOf.set(p.item, depth)
    }
    return this.depthOf.get(start) ?? null
  }

  /**
   * Where `item`'s type is known from: a depth (a root, or an item of the document), or
   * the next item of the update to ask (its neighbour: same type; its parent's item: one
   * level up). Null: nothing to resolve it with (Yjs will leave it pending, then it is dropped).
   */
  private reference(item: Y.Item): { depth: number } | { next: Y.Item; add: number } | null {
    const parent = item.parent as unknown
    if (typeof parent === 'string') return { depth: 1 }
    if (parent instanceof Y.ID) {
      const holder = findInUpdate(this.items, parent)
      if (holder !== null) return holder.content instanceof Y.ContentType ? { next: holder, add: 1 } : null
      const d = depthInDoc(this.doc, parent, true)
      return d === null ? null : { depth: d }
    }
    const neighbour = item.origin ?? item.rightOrigin
    if (neighbour === null) return null
    const inUpdate = findInUpdate(this.items, neighbour)
    if (inUpdate !== null) return { next: inUpdate, add: 0 }
    const d = depthInDoc(this.doc, neighbour, false)
    return d === null ? null : { depth: d }
  }
}

/** The deepest type the update would create (0 when it creates none). */
export function deepestNewType(doc: Y.Doc, update: Uint8Array): number {
  let structs: ReturnType<typeof Y.decodeUpdate>['structs']
  try {
    structs = Y.decodeUpdate(update).structs
  } catch (err) {
    // Content the layout skips over without reading (JSON text, say) may still not parse.
    throw new Refusal('malformed-update', `malformed update: ${(err as Error).message}`)
  }
  const items = indexItems(structs)
  const resolver = new DepthResolver(doc, items)
  let deepest = 0
  for (const s of structs) {
    if (!(s instanceof Y.Item) || !(s.content instanceof Y.ContentType)) continue
    const d = resolver.containerDepth(s)
    if (d !== null && d + 1 > deepest) deepest = d + 1
  }
  return deepest
}

/** Refuses (whole, before anything is applied) an update that would nest types past `limit`. */
export function checkNesting(doc: Y.Doc, update: Uint8Array, layout: UpdateLayout, limit: number): void {
  if (layout.newTypes === 0) return
  const depth = deepestNewType(doc, update)
  if (depth > limit) throw new Refusal('nesting-too-deep', `update nests shared types ${depth} deep, over the limit of ${limit}`)
}

/**
 * Decodes a Yjs update a client sent as a request's value (the SDK's skeleton, a
 * dictionary entry) into a scratch document, after the checks an incoming update gets:
 * well formed, no subdocuments, JSON not too deep, and its types nested no deeper than
 * the limit allows once its root's content is copied into `into`. The caller destroys it.
 */
export function decodeRequestUpdate(bytes: Uint8Array, into: Y.AbstractType<any>, limit: number): Y.Doc {
  let layout: UpdateLayout
  try {
    layout = readUpdateLayout(bytes)
  } catch (err) {
    throw new Refusal('invalid-value', `value is not a Yjs update: ${(err as Error).message}`)
  }
  if (layout.subdocs > 0) throw new Refusal('unsupported-content', 'subdocuments are not supported')
  const scratch = new Y.Doc()
  // In the scratch document its root is at depth 1; copied, it is at the depth of `into`.
  checkNesting(scratch, bytes, layout, limit - (typeDepth(into) - 1))
  try {
    Y.applyUpdate(scratch, bytes)
  } catch (err) {
    scratch.destroy()
    throw new Refusal('invalid-value', `value is not a Yjs update: ${(err as Error).message}`)
  }
  return scratch
}
