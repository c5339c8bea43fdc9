/**
 * Who owns the content at a path: the nearest model on the path, or above it, with an owner
 * (ownership cascades down the model tree, SPEC §3). The log shows it beside a rejection, so
 * "owned-by-another" says whose.
 */
import * as Y from 'yjs'
import { UNOWNED } from '../../src/shared/layout.js'
import { ownerOf } from '../../src/shared/model-tree.js'
import { resolvePath } from '../../src/shared/paths.js'
import type { ModelPath } from '../../src/shared/protocol/extension.js'

export interface PathOwner {
  /** The owned model's path, `a/b/c` as the tree shows it. */
  path: string
  ownerID: number
}

export function ownerAt(doc: Y.Doc, path: ModelPath): PathOwner | null {
  for (let n = path.length; n >= 1; n--) {
    const prefix = path.slice(0, n)
    const value = resolvePath(doc, prefix)
    if (!(value instanceof Y.Map)) continue
    const owner = ownerOf(value)
    if (owner !== UNOWNED) return { path: prefix.join('/'), ownerID: owner }
  }
  return null
}
