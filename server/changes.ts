/**
 * Turns one applied update into the list of changes a plugin judges (SPEC §4).
 *
 * The update has already been integrated (inside the still-open transaction), so "the state
 * before the update" is read from the items themselves: an item is new when its clock is at
 * or past the update's before-state for its client, and a map key's previous value is the
 * rightmost item of its chain that is not new.
 *
 * Several updates of a room may share one Yjs transaction (see inbox.ts), so the view does
 * not use the transaction's own before-state and delete set: it gets the clocks of the
 * update's authors (and the server) from just before the update, and the structs deleted
 * while it was applied and judged.
 */
import * as Y from 'yjs'

export type Change =
  /**
   * A new item: a map value set (`key` set, `replaced` is the value it overwrote) or list
   * content. `lostTo`: a map write that Yjs's tie-break placed behind a compensation its
   * author had not seen yet; if accepted, the server writes its value again (see apply-update).
   */
  | { kind: 'insert'; item: Y.Item; parent: Y.AbstractType<any>; key: string | null; replaced: Y.Item | null; lostTo?: Y.Item }
  /** A pre-existing item removed: a map key deleted or list content removed. */
  | { kind: 'delete'; item: Y.Item; parent: Y.AbstractType<any>; key: string | null }

/**
 * Gives untyped root types that hold map entries their Y.Map class. The server never calls
 * `doc.getMap(name)` itself, so a root written by clients stays a bare AbstractType, which
 * would hide that it is a model (SPEC §2: a top-level map is a root model).
 */
export function typeRootMaps(doc: Y.Doc): void {
  for (const [name, type] of doc.share) {
    if (Object.getPrototypeOf(type) === Y.AbstractType.prototype && type._map.size > 0) doc.getMap(name)
  }
}

/** Yjs's delete set (client → deleted clock ranges); its class is not exported by name. */
export type DeleteSet = Y.Transaction['deleteSet']

const NO_ITEMS: { has(item: Y.Item): boolean } = { has: () => false }

export class TransactionView {
  /** Items that existed before and were deleted by this update. */
  readonly deletedBefore = new Set<Y.Item>()
  private changesCache: Change[] | null = null

  constructor(
    readonly transaction: Y.Transaction,
    /** Clients that authored structs in the update, with their first clock. */
    private readonly structClients: Map<number, number>,
    /**
     * Clock of each client that can create items during this update (its authors and the
     * server) from just before it. Items of other clients are never new.
     */
    private readonly before: Map<number, number>,
    /** Structs deleted by this update (and by the server while judging it). */
    readonly deleteSet: DeleteSet,
    /** Items the server created to compensate an earlier rejection. */
    private readonly compensations: { has(item: Y.Item): boolean } = NO_ITEMS,
  ) {
    typeRootMaps(transaction.doc)
    Y.iterateDeletedStructs(transaction, deleteSet, (s) => {
      if (s instanceof Y.Item && !this.isNew(s)) this.deletedBefore.add(s)
    })
  }

  /** True when the item was created by this update (or by the server while judging it). */
  isNew(item: Y.Item): boolean {
    const before = this.before.get(item.id.client)
    return before !== undefined && item.id.clock >= before
  }

  /** The item that held `map[key]` before this update, or null if the key was unset. */
  itemBefore(map: Y.Map<unknown>, key: string): Y.Item | null {
    let item = map._map.get(key) ?? null
    while (item !== null && this.isNew(item)) item = item.left
    if (item === null) return null
    // Deleted before the update (not by it): the key was unset.
    if (item.deleted && !this.deletedBefore.has(item)) return null
    return item
  }

  /** Value of `map[key]` before this update (shared types returned as is). */
  valueBefore(map: Y.Map<unknown>, key: string): unknown {
    const item = this.itemBefore(map, key)
    if (item === null) return undefined
    const content = item.content.getContent()
    return content[content.length - 1]
  }

  /** True when `type` (or the item holding it) was created by this update. */
  isNewType(type: Y.AbstractType<any>): boolean {
    return type._item !== null && this.isNew(type._item)
  }

  /** Top-level changes: content inside a new or removed subtree is part of that change. */
  get changes(): Change[] {
    if (this.changesCache) return this.changesCache
    const out: Change[] = []
    const store = this.transaction.doc.store
    // Deleted items that a new map value replaced: reported with it, not as deletions.
    let replacedBy: Set<Y.Item> | null = null
    for (const [client, fromClock] of this.structClients) {
      const structs = store.clients.get(client)
      if (!structs) continue
      const before = this.before.get(client) ?? 0
      const start = Math.max(before, fromClock)
      if (Y.getState(store, client) <= start) continue
      for (let i = Y.findIndexSS(structs, start); i < structs.length; i++) {
        const s = structs[i]
        if (!(s instanceof Y.Item)) continue
        const parent = s.parent as Y.AbstractType<any>
        if (parent._item !== null && this.isNew(parent._item)) continue // inside a new subtree
        if (s.deleted) {
          const lostTo = this.lostToCompensation(s)
          if (lostTo) out.push({ kind: 'insert', item: s, parent, key: s.parentSub, replaced: null, lostTo })
          continue
        }
        let replaced: Y.Item | null = null
        if (s.parentSub !== null) {
          replaced = this.itemBefore(parent as Y.Map<unknown>, s.parentSub)
          if (replaced !== null && this.deletedBefore.has(replaced)) (replacedBy ??= new Set()).add(replaced)
          else replaced = null
        }
        out.push({ kind: 'insert', item: s, parent, key: s.parentSub, replaced })
      }
    }
    for (const item of this.deletedBefore) {
      if (replacedBy !== null && replacedBy.has(item)) continue
      const parent = item.parent as Y.AbstractType<any>
      if (parent._item !== null && this.deletedBefore.has(parent._item)) continue // inside a removed subtree
      out.push({ kind: 'delete', item, parent, key: item.parentSub })
    }
    this.changesCache = out
    return out
  }

  /** The compensation that made the new map write `s` lose the tie-break, if that is why it is deleted. */
  private lostToCompensation(s: Y.Item): Y.Item | undefined {
    if (s.parentSub === null || this.deleteSet.clients.size === 0) return undefined
    const current = (s.parent as Y.AbstractType<any>)._map.get(s.parentSub)
    if (!current || current.deleted || this.isNew(current) || !this.compensations.has(current)) return undefined
    // Everything between s and the current value is either new (this update) or compensation.
    for (let r = s.right; r !== null && r !== current; r = r.right) {
      if (!this.isNew(r) && !this.compensations.has(r) && !r.deleted) return undefined
    }
    return current
  }

  /** Items deleted by this update below `item` (the contents of a removed subtree). */
  deletedBelow(item: Y.Item): Y.Item[] {
    const out: Y.Item[] = []
    for (const d of this.deletedBefore) {
      for (let p = (d.parent as Y.AbstractType<any>)._item; p !== null; p = (p.parent as Y.AbstractType<any>)._item) {
        if (p === item) {
          out.push(d)
          break
        }
      }
    }
    return out
  }
}
