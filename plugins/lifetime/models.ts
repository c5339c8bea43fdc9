/** Walks the models of a document (every Y.Map below the root maps) with their meta. */
import * as Y from 'yjs'
import { DESTROY_WHEN_OWNER_LEAVES, META_KEY, OWNER_ID, UNOWNED } from '../../src/layout.js'

export interface ModelEntry {
  model: Y.Map<unknown>
  ownerID: number
  /** destroyWhenOwnerOrLastClientLeaves (absent = false: plain Yjs data persists, §2). */
  ephemeral: boolean
  meta: Y.Map<unknown> | null
  /** Removes the model from its parent. */
  remove(): void
}

function entryOf(model: Y.Map<unknown>, remove: () => void): ModelEntry {
  const meta = model.get(META_KEY)
  const m = meta instanceof Y.Map ? (meta as Y.Map<unknown>) : null
  const owner = m?.get(OWNER_ID)
  return { model, ownerID: typeof owner === 'number' ? owner : UNOWNED, ephemeral: m?.get(DESTROY_WHEN_OWNER_LEAVES) === true, meta: m, remove }
}

/**
 * Calls `visit` for every nested model (not the root maps themselves, which cannot be
 * removed). When `visit` returns true the model's subtree is skipped (it is being removed).
 */
export function walkModels(doc: Y.Doc, visit: (e: ModelEntry) => boolean | void): void {
  const walk = (type: Y.AbstractType<any>): void => {
    if (type instanceof Y.Map) {
      // The map's own item table, not entries(): a room load walks every model, and the
      // iterator and the array of entries cost more than the walk. Deleting a key while
      // iterating is safe: the item is marked deleted, the table keeps it.
      for (const [key, item] of type._map) {
        if (item.deleted || key === META_KEY || !(item.content instanceof Y.ContentType)) continue
        const value = item.content.type
        if (value instanceof Y.Map && visit(entryOf(value as Y.Map<unknown>, () => (type as Y.Map<unknown>).delete(key)))) continue
        walk(value)
      }
    } else if (type instanceof Y.Array) {
      const items = (type as Y.Array<unknown>).toArray()
      // Backwards, so removing an item does not shift the ones still to visit.
      for (let i = items.length - 1; i >= 0; i--) {
        const value = items[i]
        if (!(value instanceof Y.AbstractType)) continue
        if (value instanceof Y.Map && visit(entryOf(value as Y.Map<unknown>, () => (type as Y.Array<unknown>).delete(i, 1)))) continue
        walk(value)
      }
    }
  }
  for (const root of doc.share.values()) {
    // Root types are created lazily as AbstractType; only typed maps/arrays have children to walk.
    if (root instanceof Y.Map || root instanceof Y.Array) walk(root)
  }
}
