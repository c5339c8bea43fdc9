/**
 * Following re-creations: a rollback re-creates deleted content as new items and records on
 * each original (Yjs's `item.redone`) where its copy starts; a copy may itself be deleted and
 * re-created again. Shared by the redirected writes (transaction-view.ts) and their forwarding
 * (compensate.ts).
 */
import * as Y from 'yjs'

/** How many times content can have been re-created in a row before we stop following. */
export const MAX_REDONE_HOPS = 64

/**
 * The item ending at the copy of the character `id` names, when `id` is in a deleted
 * original that a rollback re-created (following re-creations of copies), else null. The
 * last copy may be deleted itself (someone deleted it legitimately).
 */
export function copyOf(tr: Y.Transaction, id: Y.ID): Y.Item | null {
  const store = tr.doc.store
  let item = Y.getItem(store, id) as Y.Item | Y.GC
  if (!(item instanceof Y.Item) || !item.deleted || item.redone === null) return null
  let at = id
  for (let hops = 0; item instanceof Y.Item && item.deleted && item.redone !== null && hops < MAX_REDONE_HOPS; hops++) {
    at = Y.createID(item.redone.client, item.redone.clock + (at.clock - item.id.clock))
    item = Y.getItem(store, at) as Y.Item | Y.GC
  }
  return item instanceof Y.Item ? Y.getItemCleanEnd(tr, store, at) : null
}
