/**
 * Compensation (SPEC §4, Rejection): undoes rejected changes with a server-authored Yjs
 * update, inside the transaction that applied them, so the resulting update carries the
 * accepted part and its compensation together.
 *
 * Yjs's UndoManager already knows how to delete inserted items and re-create deleted ones
 * (including whole deleted subtrees and overwritten map values); we hand it a stack item
 * that holds exactly the rejected items and pop it.
 */
import * as Y from 'yjs'
import type { RestoredRange } from '../../src/shared/protocol/extension.js'
import type { Change, TransactionView } from './transaction-view.js'
import { copyOf } from './redone.js'

interface DeleteRange {
  clock: number
  len: number
}

/**
 * Builds a sorted DeleteSet-shaped structure from items (what UndoManager stack items hold),
 * each `lengthOf(item)` clocks long (an item split since it was recorded covers its parts).
 */
function deleteSetOf(items: Iterable<Y.Item>, lengthOf: (item: Y.Item) => number = (item) => item.length): ReturnType<typeof Y.createDeleteSet> {
  const ds = Y.createDeleteSet()
  const clients = ds.clients as Map<number, DeleteRange[]>
  for (const item of items) {
    let ranges = clients.get(item.id.client)
    if (!ranges) clients.set(item.id.client, (ranges = []))
    ranges.push({ clock: item.id.clock, len: lengthOf(item) })
  }
  for (const ranges of clients.values()) ranges.sort((a, b) => a.clock - b.clock)
  return ds
}

const NEVER_TRACKED = Symbol('yroom.compensation')

/**
 * Reverts `changes` in the open transaction of `view`; what it re-created is added to
 * `restored` (original → copy).
 */
export function compensate(doc: Y.Doc, view: TransactionView, changes: Change[], restored: RestoredRange[]): void {
  if (changes.length === 0) return
  const { insertions, deletions } = itemsOf(view, changes)
  undo(doc, deleteSetOf(insertions), deletions, restored, (item) => view.deletedLength(item))
}

/**
 * Re-creates deleted `items` (plain content) where their deleted parents were re-created:
 * an allowed write that landed in content whose deletion was rolled back (see transaction-view.ts,
 * `redirected`). Each goes where its neighbours' copies are.
 */
export function forward(doc: Y.Doc, items: Iterable<Y.Item>, restored: RestoredRange[]): void {
  // Plain content only (transaction-view.ts): no subtree to carry along.
  undo(doc, Y.createDeleteSet(), new Set(items), restored)
}

/**
 * Accepted list content that its author placed next to an original a rollback re-created
 * (it had not seen the rollback): Yjs would leave it among the deleted originals, away
 * from the copies everyone sees (text typed into a word would land after the re-created
 * word). Each such item is written again next to the copy of its neighbour, and the
 * misplaced one deleted. `items` in the order they were integrated (a run typed after
 * the first one follows it). Returns whether it wrote anything.
 */
export function reanchor(doc: Y.Doc, tr: Y.Transaction, items: readonly Y.Item[], restored: RestoredRange[]): boolean {
  const store = doc.store
  let wrote = false
  for (const s of items) {
    if (s.deleted || s.parentSub !== null || s.content instanceof Y.ContentType || s.content instanceof Y.ContentDoc) continue
    // After the copy of its left neighbour; or, when only its right neighbour was
    // re-created (typed at the start of a re-created word), just before that one's copy.
    let left = s.origin === null ? null : copyOf(tr, s.origin)
    let right: Y.Item | null
    if (left !== null) right = left.right
    else {
      right = s.rightOrigin === null ? null : copyStartOf(tr, s.rightOrigin)
      if (right === null || !pastCopy(s, right)) continue
      left = right.left
    }
    const copy = new Y.Item(Y.createID(doc.clientID, Y.getState(store, doc.clientID)), left, left && left.lastId, right, right && right.id, s.parent, null, s.content.copy())
    copy.integrate(tr, 0)
    s.delete(tr)
    s.redone = copy.id
    restored.push({ client: s.id.client, clock: s.id.clock, length: s.length, toClient: copy.id.client, toClock: copy.id.clock })
    wrote = true
  }
  return wrote
}

/**
 * True when `s`, whose right origin is an original re-created as `copy`, was placed after
 * the copy without its author knowing of it: its origin lies before the copy. A copy goes
 * just before its original, so an author who saw it and wrote right after it (Y.Array
 * anchors to the visible item on the left) also has the original as its right origin; its
 * origin is then the copy or an item after it, which is where it meant to write. Walks left
 * from `s` to whichever comes first: no further than Yjs walked to integrate it.
 */
function pastCopy(s: Y.Item, copy: Y.Item): boolean {
  const origin = s.origin
  for (let l = s.left; l !== null; l = l.left) {
    // First: the origin may be the copy itself.
    if (origin !== null && l.id.client === origin.client && l.id.clock <= origin.clock && origin.clock < l.id.clock + l.length) return false
    if (l === copy) return true
  }
  return false
}

/** The item starting at the copy of the character `id` names (see copyOf), else null. */
function copyStartOf(tr: Y.Transaction, id: Y.ID): Y.Item | null {
  const end = copyOf(tr, id)
  return end === null ? null : (Y.getItemCleanStart(tr, Y.createID(end.id.client, end.id.clock + end.length - 1)) as Y.Item)
}

/**
 * Reverts everything an update did, down to each struct it wrote (`written`: client →
 * [from, to) clocks), not only its top-level changes: for an update Yjs could not apply
 * whole, or one that left the document in a shape Yjs itself never makes. False when
 * there was nothing to revert.
 */
export function compensateAll(doc: Y.Doc, view: TransactionView, written: Map<number, [number, number]>, restored: RestoredRange[]): boolean {
  const { insertions: top, deletions } = itemsOf(view, view.changes)
  const insertions = deleteSetOf(top)
  const clients = insertions.clients as Map<number, DeleteRange[]>
  for (const [client, [from, to]] of written) {
    if (to <= from) continue
    let ranges = clients.get(client)
    if (!ranges) clients.set(client, (ranges = []))
    ranges.push({ clock: from, len: to - from })
    ranges.sort((a, b) => a.clock - b.clock)
  }
  if (clients.size === 0 && deletions.size === 0) return false
  undo(doc, insertions, deletions, restored, (item) => view.deletedLength(item))
  return true
}

/** The items to delete and to restore to revert `changes`. */
function itemsOf(view: TransactionView, changes: Change[]): { insertions: Set<Y.Item>; deletions: Set<Y.Item> } {
  const insertions = new Set<Y.Item>()
  const deletions = new Set<Y.Item>()
  for (const c of changes) {
    // A redirected change did nothing to the document yet (its item was deleted on arrival,
    // or the copy it would delete is untouched): refusing it needs no compensation.
    if (c.redirected) continue
    if (c.kind === 'insert') {
      insertions.add(c.item)
      // A key set several times in one update keeps the earlier (overwritten) writes between
      // the replaced value and this one; UndoManager restores the replaced value only when
      // every item to its right is being undone, so they are undone too.
      if (c.key !== null) for (let l = c.item.left; l !== null && view.isNew(l); l = l.left) insertions.add(l)
      if (c.replaced) {
        deletions.add(c.replaced)
        for (const d of view.deletedBelow(c.replaced)) deletions.add(d)
      }
    } else {
      deletions.add(c.item)
      for (const d of view.deletedBelow(c.item)) deletions.add(d)
    }
  }
  // A map value is restored only when every item right of it under its key is being
  // undone as well (else UndoManager takes the key as since overwritten by someone else).
  // The update's own items there are: values it wrote over the deleted one, deleted or
  // not (an item holding deleted content replaces the value just as well).
  for (const d of deletions) {
    if (d.parentSub !== null) for (let r = d.right; r !== null && view.isNew(r); r = r.right) insertions.add(r)
  }
  return { insertions, deletions }
}

/**
 * Lists re-created whole (their parent is among `deletions`) may hold deleted items that an
 * earlier rollback re-created (`redone`: their copies, in the same list). UndoManager places
 * each re-created item next to the copies of its neighbours, and takes a deleted
 * neighbour's copy for its copy: but a copy need not lie where its original does (a write
 * re-anchored away from it; one written after a copy lies between it and its original), and
 * finding it splits the item that holds it, whose tail is then never re-created (Yjs merges
 * a copy with the server's item before it). The live items of such a list, all re-created,
 * give its order: the deleted ones' `redone` is hidden meanwhile (returned, to be put back).
 */
function hideRedone(deletions: Set<Y.Item>): Array<[Y.Item, Y.ID]> {
  const hidden: Array<[Y.Item, Y.ID]> = []
  const lists = new Set<Y.AbstractType<any>>()
  for (const d of deletions) {
    const parent = d.parent as Y.AbstractType<any>
    if (d.parentSub === null && parent._item !== null && deletions.has(parent._item)) lists.add(parent)
  }
  for (const list of lists) {
    for (let i = list._start; i !== null; i = i.right) {
      if (i.redone !== null && i.deleted && !deletions.has(i)) {
        hidden.push([i, i.redone])
        i.redone = null
      }
    }
  }
  return hidden
}

/**
 * Deletes `insertions` and restores `deletions` in the open transaction, through
 * UndoManager. The originals of what it re-created are kept (never garbage-collected), so
 * that writes into them that were made before their authors saw the rollback can be
 * forwarded to the copies (transaction-view.ts); their copies are reported in `restored`.
 */
function undo(
  doc: Y.Doc,
  insertions: ReturnType<typeof Y.createDeleteSet>,
  deletions: Set<Y.Item>,
  restored: RestoredRange[],
  lengthOf: (item: Y.Item) => number = (item) => item.length,
): void {
  const um = new Y.UndoManager(doc, { trackedOrigins: new Set([NEVER_TRACKED]), captureTimeout: 0 })
  const hidden = hideRedone(deletions)
  try {
    um.undoStack.push({ insertions, deletions: deleteSetOf(deletions, lengthOf), meta: new Map() } as never)
    um.undo()
  } finally {
    um.destroy()
    for (const [item, id] of hidden) item.redone = id
  }
  const store = doc.store
  for (const d of deletions) {
    // Every part of it: UndoManager splits items at the ranges' ends.
    const structs = store.clients.get(d.id.client)!
    const end = d.id.clock + lengthOf(d)
    for (let i = Y.findIndexSS(structs, d.id.clock); i < structs.length && structs[i].id.clock < end; i++) {
      const piece = structs[i]
      if (!(piece instanceof Y.Item) || piece.redone === null) continue
      piece.keep = true
      restored.push({ client: piece.id.client, clock: piece.id.clock, length: piece.length, toClient: piece.redone.client, toClock: piece.redone.clock })
    }
  }
}
