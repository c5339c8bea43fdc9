/**
 * Walks the models of a document with their meta: the root models (top-level Y.Maps) and
 * every Y.Map below the roots.
 */
import * as Y from 'yjs'
import { DESTROY_WHEN_OWNER_LEAVES, META_KEY } from '../../src/shared/layout.js'
import { typeRootMaps } from '../../server/room/transaction-view.js'
import { metaModelOf, ownerOf } from '../../src/shared/model-tree.js'

export interface ModelEntry {
  model: Y.Map<unknown>
  /** A root model (`doc.getMap(name)`): `remove` clears it, as a root cannot leave the document. */
  root: boolean
  ownerID: number
  /** destroyWhenOwnerOrLastClientLeaves (absent = false: plain Yjs data persists, §2). */
  ephemeral: boolean
  meta: Y.Map<unknown> | null
  /**
   * Removes the model: a nested model is deleted from its parent; a root model, which no
   * update can take out of a Y.Doc, is cleared (every key, `$meta` included), so it is left
   * as a root nobody wrote: empty, unowned and persistent.
   */
  remove(): void
}

function entryOf(model: Y.Map<unknown>, root: boolean, remove: () => void): ModelEntry {
  const m = metaModelOf(model) ?? null
  return { model, root, ownerID: ownerOf(model), ephemeral: m?.get(DESTROY_WHEN_OWNER_LEAVES) === true, meta: m, remove }
}

/** Deletes every key of a root map (the closest a root model comes to being removed). */
function clear(map: Y.Map<unknown>): void {
  for (const key of [...map.keys()]) map.delete(key)
}

/**
 * Calls `visit` for every model: each root model first, then the models below it. When
 * `visit` returns true the model's subtree is skipped (it is being removed).
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
        if (value instanceof Y.Map && visit(entryOf(value as Y.Map<unknown>, false, () => (type as Y.Map<unknown>).delete(key)))) continue
        walk(value)
      }
    } else if (type instanceof Y.Array) {
      const items = (type as Y.Array<unknown>).toArray()
      // Backwards, so removing an item does not shift the ones still to visit.
      for (let i = items.length - 1; i >= 0; i--) {
        const value = items[i]
        if (!(value instanceof Y.AbstractType)) continue
        if (value instanceof Y.Map && visit(entryOf(value as Y.Map<unknown>, false, () => (type as Y.Array<unknown>).delete(i, 1)))) continue
        walk(value)
      }
    }
  }
  // A root that clients wrote map entries into may still be a bare AbstractType: as a
  // root model it is a Y.Map (SPEC §2), so type it before looking.
  typeRootMaps(doc)
  for (const root of doc.share.values()) {
    if (root instanceof Y.Map) {
      const map = root as Y.Map<unknown>
      if (visit(entryOf(map, true, () => clear(map)))) continue
      walk(map)
    } else if (root instanceof Y.Array) {
      // Only typed maps/arrays have children to walk; a root array is not a model.
      walk(root)
    }
  }
}
