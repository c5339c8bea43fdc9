/**
 * Models and their meta as they were before the update being judged (SPEC §2, §4).
 * One Before per judged update. A meta the update did not touch is the document's current
 * one, kept across updates (server/room/meta-before.ts); one it touched is read through the update's
 * view, past what it wrote, and kept for the rest of the update.
 */
import * as Y from 'yjs'
import { COLLECTION, META_KEY, OWNER_ID, PREVENT_OWNERSHIP_TAKEOVER } from '../../src/shared/layout.js'
import type { TransactionView } from '../../server/room/transaction-view.js'
import { parentModelOf } from '../../src/shared/model-tree.js'
import { metaBefore, metaFromFields, metaModelOfItem, NO_META, type MetaBefore } from '../../server/room/meta-before.js'

export type { MetaBefore } from '../../server/room/meta-before.js'

export class Before {
  /** Metas read through the view (models whose meta this update touched): most updates have none. */
  private metas: Map<Y.Map<unknown>, MetaBefore> | null = null

  constructor(readonly view: TransactionView) {}

  /** The meta of `model` before the update (defaults for new models and models without $meta). */
  meta(model: Y.Map<unknown>): MetaBefore {
    if (this.view.isNewType(model)) return NO_META
    return metaBefore(model, this.view) ?? this.throughView(model)
  }

  /** The meta before the update, read item by item past what the update wrote or deleted. */
  private throughView(model: Y.Map<unknown>): MetaBefore {
    let m = this.metas?.get(model)
    if (m) return m
    m = NO_META
    const metaMap = metaModelOfItem(this.view.itemBefore(model, META_KEY))
    if (metaMap !== null) {
      const v = this.view
      m = metaFromFields(v.valueBefore(metaMap, OWNER_ID), v.valueBefore(metaMap, PREVENT_OWNERSHIP_TAKEOVER), v.valueBefore(metaMap, COLLECTION))
    }
    ;(this.metas ??= new Map()).set(model, m)
    return m
  }

  /** The first of `model` and its ancestor models (nearest first) that passes `test`, or null. */
  findInHierarchy(model: Y.Map<unknown>, test: (m: Y.Map<unknown>) => boolean): Y.Map<unknown> | null {
    for (let m: Y.Map<unknown> | null = model; m !== null; m = parentModelOf(m)) if (test(m)) return m
    return null
  }
}
