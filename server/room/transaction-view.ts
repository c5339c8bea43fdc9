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
import { META_KEY } from '../../src/shared/layout.js'
import { copyOf, MAX_REDONE_HOPS } from './redone.js'

export type Change =
  /**
   * A new item: a map value set (`key` set, `replaced` is the value it overwrote) or list
   * content. `lostTo`: a map write that Yjs's tie-break placed behind a compensation its
   * author had not seen yet; if accepted, the server writes its value again (see apply-update).
   */
  | {
      kind: 'insert'
      item: Y.Item
      parent: Y.AbstractType<any>
      key: string | null
      replaced: Y.Item | null
      lostTo?: Y.Item
      /**
       * The item landed in content whose deletion the server rolled back (its author had not
       * seen the rollback yet): it was deleted on arrival, and `parent` is the re-created
       * copy it is judged against; if accepted, the server writes it there (compensate.ts).
       */
      redirected?: true
    }
  /**
   * A pre-existing item removed: a map key deleted or list content removed. `redirected`:
   * the author removed an original that a rollback had re-created; `item` is the copy,
   * which the server removes if this is accepted.
   */
  | { kind: 'delete'; item: Y.Item; parent: Y.AbstractType<any>; key: string | null; redirected?: true }

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
  /**
   * Their lengths when the update was applied. Judging may split one (mapping a deletion
   * onto part of a copy): the item then holds only its first part, and the rest is a new
   * item no set names, which a rollback must restore as well (deletedLength).
   */
  private readonly lengths = new Map<Y.Item, number>()
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
    /**
     * The deletions the update itself carries, when they may refer to originals a rollback
     * re-created (the room has some, and the update deletes): then they can be redirected.
     */
    private readonly sentDeletes: DeleteSet | null = null,
  ) {
    typeRootMaps(transaction.doc)
    Y.iterateDeletedStructs(transaction, deleteSet, (s) => {
      if (s instanceof Y.Item && !this.isNew(s)) {
        this.deletedBefore.add(s)
        this.lengths.set(s, s.length)
      }
    })
  }

  /** How many clocks from `item` on this update deleted: its length when it was applied. */
  deletedLength(item: Y.Item): number {
    return this.lengths.get(item) ?? item.length
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
          const target = this.redirectTarget(s)
          if (target !== null) {
            const current = s.parentSub === null ? null : (target._map.get(s.parentSub) ?? null)
            out.push({ kind: 'insert', item: s, parent: target, key: s.parentSub, replaced: current && !current.deleted ? current : null, redirected: true })
            continue
          }
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
    if (this.sentDeletes !== null) this.redirectedDeletions(out, this.sentDeletes)
    this.changesCache = out
    return out
  }

  /**
   * The re-created copy of the deleted type `s` was written into, when `s` is new and
   * deleted because that type had been deleted before this update, and that deletion was
   * rolled back (the type lives on as a copy); else null. The author wrote through a
   * reference to the original: before it saw the rollback, or holding on to it after.
   */
  private redirectTarget(s: Y.Item): Y.AbstractType<any> | null {
    const p = (s.parent as Y.AbstractType<any>)._item
    // Its author had seen the deletion and collected the content before sending: nothing
    // is left to forward (Yjs drops writes into a deleted type; stock clients holding on to
    // a type the rollback re-created lose them on their own replica already).
    if (s.content instanceof Y.ContentDeleted) return null
    // Only plain content (text, values, embeds) is forwarded, never a new shared type: its
    // subtree is deleted along with it, so the rules could not judge what it would bring
    // (a model claiming someone else, content its author deleted inside it).
    if (s.content instanceof Y.ContentType || s.content instanceof Y.ContentDoc) return null
    if (p === null || !p.deleted || p.redone === null || this.isNew(p) || this.deletedBefore.has(p)) return null
    // Ownership and flags are never forwarded: a claim is a compare-and-set on the value
    // its author saw, which a re-created meta-model is not.
    if (p.parentSub === META_KEY) return null
    // A map value its author overwrote: the newest value of the key is what is forwarded.
    if (s.parentSub !== null && s.right !== null && this.isNew(s.right)) return null
    const live = liveCopy(this.transaction, p)
    if (live === null || !(live.content instanceof Y.ContentType)) return null
    // The update's own delete set cannot tell: an author that had seen the deletion deleted
    // `s` itself on arrival (Yjs does so for anything written into a deleted type), so its
    // update deletes `s` just as a deliberate insert-and-delete in one transaction would.
    return live.content.type as Y.AbstractType<any>
  }

  /**
   * Deletions the update carries of originals that were already deleted and re-created by
   * a rollback: they stand for deleting the copies (the author had not seen the rollback).
   */
  private redirectedDeletions(out: Change[], sentDeletes: DeleteSet): void {
    const tr = this.transaction
    const store = tr.doc.store
    const seen = new Set<Y.Item>()
    for (const [client, ranges] of sentDeletes.clients) {
      const structs = store.clients.get(client)
      if (!structs) continue
      for (const { clock, len } of ranges) {
        const end = Math.min(clock + len, Y.getState(store, client))
        for (let i = clock < end ? Y.findIndexSS(structs, clock) : structs.length; i < structs.length && structs[i].id.clock < end; i++) {
          const o = structs[i]
          if (!(o instanceof Y.Item) || !o.deleted || o.redone === null || this.deletedBefore.has(o) || this.isNew(o)) continue
          // The part of the original the update deletes, mapped onto its copy.
          const from = Math.max(clock, o.id.clock) - o.id.clock
          const to = Math.min(end, o.id.clock + o.length) - o.id.clock
          for (const copy of copiesOf(tr, o, from, to)) seen.add(copy)
        }
      }
    }
    // Top-level only, as for any removal: content inside a removed copy goes with it.
    for (const copy of seen) {
      let inside = false
      for (let p = (copy.parent as Y.AbstractType<any>)._item; p !== null && !inside; p = (p.parent as Y.AbstractType<any>)._item) inside = seen.has(p)
      // As for inserts, ownership and flags are never forwarded.
      const parentItem = (copy.parent as Y.AbstractType<any>)._item
      if (inside || parentItem?.parentSub === META_KEY) continue
      out.push({ kind: 'delete', item: copy, parent: copy.parent as Y.AbstractType<any>, key: copy.parentSub, redirected: true })
    }
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

/** The live item a deleted, re-created item continues as (types: whole items), or null. */
function liveCopy(tr: Y.Transaction, item: Y.Item): Y.Item | null {
  const copy = copyOf(tr, item.id)
  return copy !== null && !copy.deleted ? copy : null
}

/**
 * The live items that continue offsets [from, to) of the deleted original `o`, following
 * re-creations (a copy may itself have been deleted and re-created again).
 */
function copiesOf(tr: Y.Transaction, o: Y.Item, from: number, to: number): Y.Item[] {
  const out: Y.Item[] = []
  const work: Array<{ item: Y.Item; from: number; to: number; hops: number }> = [{ item: o, from, to, hops: 0 }]
  while (work.length > 0) {
    const { item, from: a, to: b, hops } = work.pop()!
    if (!item.deleted) {
      out.push(item)
      continue
    }
    if (item.redone === null || hops > MAX_REDONE_HOPS) continue
    // The copy starts at `redone` and has the original's length; it may have been split since.
    const client = item.redone.client
    let clock = item.redone.clock + a
    const end = item.redone.clock + b
    while (clock < end) {
      const piece = Y.getItemCleanStart(tr, Y.createID(client, clock))
      if (!(piece instanceof Y.Item)) break
      const last = Math.min(end, piece.id.clock + piece.length)
      if (last < piece.id.clock + piece.length) Y.getItemCleanEnd(tr, tr.doc.store, Y.createID(client, last - 1))
      work.push({ item: piece, from: 0, to: last - piece.id.clock, hops: hops + 1 })
      clock = last
    }
  }
  return out
}
