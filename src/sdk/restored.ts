/**
 * Content the server re-created (§4, Rejection): when it rolls back someone's deletion, Yjs
 * cannot undelete, so the server writes copies of the deleted items and tells us which
 * copies continue which originals. Setting Yjs's own `item.redone` from that makes
 * `Y.UndoManager` (an undo of our earlier insertion deletes the copies too) and relative
 * positions (cursors, selections) follow the content to its copies, exactly as they follow
 * content re-created by a local undo.
 */
import * as Y from 'yjs'
import type { RestoredRange } from '../shared/protocol/extension.js'

/** Origin of the transaction that only splits items (no change: no update, no undo step). */
export const RESTORED_ORIGIN = Symbol('yroom.restored')

/** Records each range's copies on the originals this replica holds (items, not collected ones). */
export function applyRestored(doc: Y.Doc, ranges: readonly RestoredRange[]): void {
  const store = doc.store
  doc.transact((tr) => {
    for (const r of ranges) {
      const end = Math.min(r.clock + r.length, Y.getState(store, r.client))
      let clock = r.clock
      while (clock < end) {
        // Typed as an Item, but a garbage-collected range is a GC struct.
        const item = Y.getItemCleanStart(tr, Y.createID(r.client, clock)) as Y.Item | Y.GC
        if (!(item instanceof Y.Item)) {
          // Garbage-collected (its parent is gone): there is nothing to follow from here.
          clock = item.id.clock + item.length
          continue
        }
        if (item.id.clock + item.length > end) Y.getItemCleanEnd(tr, store, Y.createID(r.client, end - 1))
        if (item.redone === null) item.redone = Y.createID(r.toClient, r.toClock + (item.id.clock - r.clock))
        clock = item.id.clock + item.length
      }
    }
  }, RESTORED_ORIGIN)
}
