/**
 * defineModel: turns a schema into a model type. Its instances are views: every property
 * read goes to the Y.Map, every write is a Yjs transaction on it (no copies of the data).
 */
import * as Y from 'yjs'
import { META_KEY } from '../shared/layout.js'
import { RealtimeModel, type Binding } from './base.js'
import type { Datastore } from './datastore.js'
import { buildCollection, buildModel } from './populate.js'
import { isCollectionProp, isValueProp, type Fields, type ModelType, type Prop } from './schema.js'
import { RealtimeSet } from './collections/set.js'
import { RealtimeDictionary } from './collections/dictionary.js'
import { RealtimeArray } from './collections/array.js'
import { StringKeyDictionary } from './collections/string-key-dictionary.js'

/** Model types by name, for collections that hold models of several types (the instance set). */
const registry = new Map<string, ModelType>()

export function modelTypeByName(name: string): ModelType | undefined {
  return registry.get(name)
}

function reservedName(key: string): string | null {
  if (key.startsWith('$') || key.startsWith('_')) return 'names starting with $ or _ are reserved'
  if (key in RealtimeModel.prototype || key === 'constructor') return 'it is a RealtimeModel member'
  return null
}

/** The view of a child slot (child model or collection) declared by `p`. */
export function slotView(ds: Datastore, parent: RealtimeModel, key: string, p: Prop): RealtimeModel {
  const cached = parent._children.get(key)
  if (cached) return cached
  let view: RealtimeModel
  if (p.kind === 'model') {
    const type = p.model
    view = new type.viewClass(...([ds, { kind: 'slot', parent, key, create: () => buildModel(type) }] as never[]))
  } else if (isCollectionProp(p)) {
    const binding: Binding = { kind: 'slot', parent, key, create: () => buildCollection(p.kind) }
    const ctor = { set: RealtimeSet, dictionary: RealtimeDictionary, array: RealtimeArray, stringKeyDictionary: StringKeyDictionary }[p.kind]
    view = new ctor(ds, binding, p.model)
  } else {
    throw new TypeError(`property '${key}' is not a child model or collection`)
  }
  parent._children.set(key, view)
  return view
}

function defineAccessor(proto: object, key: string, p: Prop): void {
  if (isValueProp(p)) {
    Object.defineProperty(proto, key, {
      enumerable: true,
      get(this: RealtimeModel) {
        const v = this.yMap?.get(key)
        if (v !== undefined) return v
        const removed = this._removedValues()
        return removed !== undefined && key in removed ? removed[key] : p.default
      },
      set(this: RealtimeModel, v: unknown) {
        if (!p.check(v)) throw new TypeError(`property '${key}': ${String(v)} is not a valid ${p.kind}`)
        const map = this.yMap
        if (map !== undefined && map.has(key) && map.get(key) === v) return // no-op writes send nothing
        this._write((m) => m.set(key, v))
      },
    })
  } else if (p.kind === 'text') {
    Object.defineProperty(proto, key, {
      enumerable: true,
      get(this: RealtimeModel) {
        const t = this.yMap?.get(key)
        if (t instanceof Y.Text) return t
        // Editors need a live Y.Text: a missing one is created (a write).
        return this._write((m) => {
          const cur = m.get(key)
          if (cur instanceof Y.Text) return cur
          const created = new Y.Text()
          m.set(key, created)
          return created
        })
      },
    })
  } else {
    Object.defineProperty(proto, key, {
      enumerable: true,
      get(this: RealtimeModel) {
        return slotView(this._ds, this, key, p)
      },
    })
  }
}

/**
 * Defines a model type. `name` identifies the type in collections that hold several types
 * (the datastore's instance set) and must be unique among the app's model types (a later
 * definition under the same name replaces the earlier one, which keeps hot reloading working).
 */
export function defineModel<const F extends Fields>(name: string, fields: F): ModelType<F> {
  for (const key of Object.keys(fields)) {
    const why = reservedName(key)
    if (why) throw new TypeError(`model '${name}': property name '${key}' is not allowed (${why})`)
    if (key === META_KEY) throw new TypeError(`model '${name}': '${META_KEY}' is reserved`)
  }
  class View extends RealtimeModel<F> {
    constructor(ds: Datastore, binding: Binding) {
      super(ds, binding)
    }
  }
  Object.defineProperty(View, 'name', { value: name })
  // The dispatcher reads a view's schema from its class.
  Object.defineProperty(View, 'fields', { value: fields })
  for (const [key, p] of Object.entries(fields)) defineAccessor(View.prototype, key, p)
  const type: ModelType<F> = { modelName: name, fields, viewClass: View as unknown as ModelType<F>['viewClass'] }
  registry.set(name, type)
  return type
}
