/**
 * Builds the Yjs content of a new model from its schema: every value property with its
 * default (or the given initial value), Y.Text properties, child models and empty
 * collections with their `$meta.collection` marker (§2, §5). The result is a preliminary
 * Y.Map: inserting it into the document creates the whole subtree in one transaction.
 */
import * as Y from 'yjs'
import { ARRAY_ITEMS_KEY, COLLECTION, META_KEY } from '../shared/layout.js'
import { isCollectionProp, isValueProp, type Fields, type ModelType, type Prop } from './schema.js'

export type MetaInit = Record<string, number | boolean | string>

/** A new, not yet integrated Y.Map holding a fresh model of `type`. */
export function buildModel(type: ModelType, init: Record<string, unknown> = {}, meta?: MetaInit): Y.Map<unknown> {
  const map = new Y.Map<unknown>()
  if (meta && Object.keys(meta).length > 0) map.set(META_KEY, metaMap(meta))
  fill(map, type.fields, init)
  return map
}

function metaMap(meta: MetaInit): Y.Map<unknown> {
  const m = new Y.Map<unknown>()
  for (const [k, v] of Object.entries(meta)) m.set(k, v)
  return m
}

function fill(map: Y.Map<unknown>, fields: Fields, init: Record<string, unknown>): void {
  for (const [key, p] of Object.entries(fields)) {
    const value = buildProp(p, init[key], key)
    if (value !== undefined) map.set(key, value)
  }
  for (const key of Object.keys(init)) {
    if (!(key in fields)) throw new TypeError(`unknown property '${key}'`)
  }
}

/** The initial Yjs value of one property (undefined: nothing to store). */
export function buildProp(p: Prop, init: unknown, key: string): unknown {
  if (isValueProp(p)) {
    const v = init === undefined ? p.default : init
    if (!p.check(v)) throw new TypeError(`property '${key}': ${String(v)} is not a valid ${p.kind}`)
    return v
  }
  if (p.kind === 'text') {
    if (init !== undefined && typeof init !== 'string') throw new TypeError(`property '${key}': a text is initialized with a string`)
    return new Y.Text(init ?? '')
  }
  if (p.kind === 'model') {
    if (init !== undefined && (typeof init !== 'object' || init === null)) {
      throw new TypeError(`property '${key}': a child model is initialized with an object`)
    }
    return buildModel(p.model, (init ?? {}) as Record<string, unknown>)
  }
  if (isCollectionProp(p)) {
    if (init !== undefined) throw new TypeError(`property '${key}': collections start empty`)
    return buildCollection(p.kind)
  }
  return undefined
}

/** A new, empty collection of the given kind. */
export function buildCollection(kind: 'set' | 'dictionary' | 'array' | 'stringKeyDictionary'): Y.Map<unknown> {
  const map = new Y.Map<unknown>()
  map.set(META_KEY, metaMap({ [COLLECTION]: kind }))
  if (kind === 'array') map.set(ARRAY_ITEMS_KEY, new Y.Array<unknown>())
  return map
}
