/**
 * Model paths: where a shared type or item sits in the document, as root name followed by
 * map keys and array indexes. Used in rejection notices and by the SDK to find models.
 */
import * as Y from 'yjs'
import type { ModelPath } from './protocol/extension.js'

/** Index of `item` among the visible (non-deleted, countable) items of its list parent. */
function indexInList(item: Y.Item): number {
  let i = 0
  for (let n = item.left; n !== null; n = n.left) {
    if (!n.deleted && n.countable) i += n.length
  }
  return i
}

/** Path of the slot an item occupies: the parent type's path, then the key or index. */
export function pathOfItem(item: Y.Item): ModelPath {
  const parent = item.parent as Y.AbstractType<any>
  const base = pathOfType(parent)
  base.push(item.parentSub ?? indexInList(item))
  return base
}

/** Path of a shared type: `[rootName, ...keys]`. */
export function pathOfType(type: Y.AbstractType<any>): ModelPath {
  const item = type._item
  if (item === null) {
    const doc = type.doc
    return doc ? [Y.findRootTypeKey(type)] : []
  }
  return pathOfItem(item)
}

/** Resolves a path to the value stored there (a shared type or a primitive), or undefined. */
export function resolvePath(doc: Y.Doc, path: ModelPath): unknown {
  if (path.length === 0 || typeof path[0] !== 'string') return undefined
  let cur: unknown = doc.share.get(path[0])
  // A root that arrived only through updates is an untyped AbstractType until someone
  // asks for it by class; a path into it means it is a map.
  if (cur instanceof Y.AbstractType && Object.getPrototypeOf(cur) === Y.AbstractType.prototype) cur = doc.getMap(path[0])
  for (let i = 1; i < path.length; i++) {
    const seg = path[i]
    if (cur instanceof Y.Map && typeof seg === 'string') cur = cur.get(seg)
    else if (cur instanceof Y.Array && typeof seg === 'number') cur = cur.get(seg)
    else return undefined
  }
  return cur
}
