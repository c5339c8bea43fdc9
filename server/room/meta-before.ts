/**
 * Models' meta as the document holds it now, kept across updates.
 *
 * Judging asks for the meta of a write's model and of every ancestor model. A cache per
 * update never hits under load (a tick's batch holds one write per model), and reading a
 * meta through the update's view costs a dozen map lookups. So the answer is kept with
 * the model, together with the Yjs items it was read from: the `$meta` item and the
 * ownerID, preventOwnershipTakeover and collection items of the meta map.
 *
 * An entry needs no invalidation. Yjs items never change their content; a map's value
 * changes only by a new item becoming current under its key, or by the current item being
 * deleted. So while every item an entry names is still the current one under its key and
 * still undeleted, the entry still holds, whatever wrote to the document since (clients,
 * compensations, server edits, a reload builds new types). Checking that is five lookups.
 *
 * "Before the update" (SPEC §4) comes for free: an item the update being judged wrote or
 * deleted fails the check, and the caller reads the meta through the view instead. An
 * entry is made only from items the update did not touch, so it is both the state before
 * the update and the state now.
 */
import * as Y from 'yjs'
import { COLLECTION, META_KEY, OWNER_ID, PREVENT_OWNERSHIP_TAKEOVER, UNOWNED } from '../../src/shared/layout.js'
import type { TransactionView } from './transaction-view.js'

export interface MetaBefore {
  ownerID: number
  prevent: boolean
  collection: string | undefined
}

export const NO_META: MetaBefore = { ownerID: UNOWNED, prevent: false, collection: undefined }

/** A meta from the values of its three fields (anything but a number is no owner). */
export function metaFromFields(ownerID: unknown, prevent: unknown, collection: unknown): MetaBefore {
  return {
    ownerID: typeof ownerID === 'number' ? ownerID : UNOWNED,
    prevent: prevent === true,
    collection: (collection as string | undefined) ?? undefined,
  }
}

interface Entry {
  meta: MetaBefore
  /** model._map.get('$meta') when read (undefined: no meta model). */
  metaItem: Y.Item | undefined
  /** The meta map's items for its three fields (undefined: the field is unset). */
  owner: Y.Item | undefined
  prevent: Y.Item | undefined
  collection: Y.Item | undefined
}

/** Keyed by the model's Y.Map: types are unique per document, and an entry dies with its type. */
const entries = new WeakMap<Y.Map<unknown>, Entry>()

/** True when `item` is unset, or still undeleted (the current value of its key). */
const live = (item: Y.Item | undefined): boolean => item === undefined || !item.deleted

function lastValue(item: Y.Item | undefined): unknown {
  if (item === undefined) return undefined
  const content = item.content.getContent()
  return content[content.length - 1]
}

/** The meta map an item of a model's `$meta` key holds, or null (unset, or not a map). */
export function metaModelOfItem(item: Y.Item | null | undefined): Y.Map<unknown> | null {
  const type = item?.content instanceof Y.ContentType ? item.content.type : null
  return type instanceof Y.Map ? type : null
}

/** The cached meta of `model` when every item it was read from is still current; else null. */
function cached(model: Y.Map<unknown>): MetaBefore | null {
  const e = entries.get(model)
  if (e === undefined) return null
  const metaItem = model._map.get(META_KEY)
  if (metaItem !== e.metaItem || !live(metaItem)) return null
  if (metaItem === undefined) return e.meta
  const fields = (metaItem.content as Y.ContentType).type._map
  if (fields.get(OWNER_ID) !== e.owner || !live(e.owner)) return null
  if (fields.get(PREVENT_OWNERSHIP_TAKEOVER) !== e.prevent || !live(e.prevent)) return null
  if (fields.get(COLLECTION) !== e.collection || !live(e.collection)) return null
  return e.meta
}

/**
 * The meta of an existing `model` before the update `view` judges, when it can be read
 * from current items the update did not touch (and is then cached); else null, and the
 * caller reads it through the view.
 */
export function metaBefore(model: Y.Map<unknown>, view: TransactionView): MetaBefore | null {
  const hit = cached(model)
  if (hit !== null) return hit
  const metaItem = model._map.get(META_KEY)
  if (!untouched(metaItem, view)) return null
  const metaMap = metaModelOfItem(metaItem)
  if (metaItem !== undefined && metaMap === null) return null // $meta holds no map: rare, not cached
  const fields = metaMap?._map
  const owner = fields?.get(OWNER_ID)
  const prevent = fields?.get(PREVENT_OWNERSHIP_TAKEOVER)
  const collection = fields?.get(COLLECTION)
  if (!untouched(owner, view) || !untouched(prevent, view) || !untouched(collection, view)) return null
  const meta = metaMap === null ? NO_META : metaFromFields(lastValue(owner), lastValue(prevent), lastValue(collection))
  entries.set(model, { meta, metaItem, owner, prevent, collection })
  return meta
}

/** Unset, or an undeleted item the update did not write. */
function untouched(item: Y.Item | undefined, view: TransactionView): boolean {
  return item === undefined || (!item.deleted && !view.isNew(item))
}
