/**
 * The model tree (SPEC §2), read from a Y.Doc as it is now: a model is any Y.Map, its
 * meta-model the Y.Map under `$meta`, and the models above it its hierarchy (ownership
 * cascades down it). The SDK, the server and the plugins all read the tree through here.
 *
 * Judging an update asks what the meta held *before* the update; that reading goes through
 * the update's view (plugins/authority/hierarchy.ts), on top of these walks.
 */
import * as Y from 'yjs'
import { META_KEY, OWNER_ID, UNOWNED } from './layout.js'

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyType = Y.AbstractType<any>

/** The type holding `type`, or null at a root. */
export function parentOf(type: AnyType): AnyType | null {
  return type._item === null ? null : (type._item.parent as AnyType)
}

/** The model a type's content belongs to: the nearest Y.Map at or above it. */
export function modelOf(type: AnyType | null): Y.Map<unknown> | null {
  for (let t = type; t !== null; t = parentOf(t)) if (t instanceof Y.Map) return t
  return null
}

/** The model above `model` (its parent model), or null for a root model. */
export function parentModelOf(model: Y.Map<unknown>): Y.Map<unknown> | null {
  return modelOf(parentOf(model))
}

/** The models above `model`, nearest first (not `model` itself). */
export function ancestorModels(model: Y.Map<unknown>): Y.Map<unknown>[] {
  const out: Y.Map<unknown>[] = []
  for (let m = parentModelOf(model); m !== null; m = parentModelOf(m)) out.push(m)
  return out
}

/** The meta-model of `model` (the Y.Map under `$meta`), if it has one. */
export function metaModelOf(model: Y.Map<unknown> | undefined): Y.Map<unknown> | undefined {
  const meta = model?.get(META_KEY)
  return meta instanceof Y.Map ? meta : undefined
}

/** The ownerID `model`'s meta holds: UNOWNED without a meta or without a numeric owner. */
export function ownerOf(model: Y.Map<unknown> | undefined): number {
  const owner = metaModelOf(model)?.get(OWNER_ID)
  return typeof owner === 'number' ? owner : UNOWNED
}

/** When `type` is some model's meta-model, that model; else null. */
export function modelOfMeta(type: AnyType): Y.Map<unknown> | null {
  const item = type._item
  if (item === null || item.parentSub !== META_KEY || !(type instanceof Y.Map)) return null
  const parent = item.parent
  return parent instanceof Y.Map ? parent : null
}

/**
 * True when `type` lies in the root type named `name`. Compares the root itself: its name
 * (Y.findRootTypeKey) is found by scanning every root of the document, on every change.
 */
export function isUnderRoot(type: AnyType, name: string): boolean {
  let t = type
  for (let p = parentOf(t); p !== null; p = parentOf(t)) t = p
  return t.doc !== null && t.doc.share.get(name) === t
}
