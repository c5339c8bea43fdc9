/**
 * The datastore (Normcore's name): the room's Y.Doc seen as models. It owns the views
 * (one per Y.Map and model type, so identity is stable), `instantiate`, the instance set,
 * and the dispatch of change events.
 *
 * Events fire from the document's `afterTransaction`: after a local transaction ends (at
 * once, for a plain property write) and after a whole incoming update is applied (Normcore's
 * AfterRead), never in between. Each change is tagged local, remote or rollback (rollback.ts).
 */
import * as Y from 'yjs'
import {
  DESTROY_WHEN_OWNER_LEAVES,
  META_KEY,
  OWNER_ID,
  PREVENT_OWNERSHIP_TAKEOVER,
  UNOWNED,
} from '../shared/layout.js'
import { pathOfType } from '../shared/paths.js'
import type { AnyValue, Response } from '../shared/protocol/extension.js'
import { RealtimeModel, type ChangeSource, type PropertyChange } from './base.js'
import { Collection, type SharedType, type SourceOf } from './collections/collection.js'
import { RealtimeSet } from './collections/set.js'
import { RealtimeDictionary } from './collections/dictionary.js'
import { RealtimeArray } from './collections/array.js'
import { modelTypeByName, slotView } from './model.js'
import { buildModel, buildProp } from './populate.js'
import { SKELETON_ROOT } from '../shared/protocol/skeleton.js'
import { RejectionTracker } from './rollback.js'
import { isCollectionProp, type InitOf, type InstanceOf, type ModelType, type Prop } from './schema.js'

/** `$meta` field naming the model type of an instantiated model (for mixed collections). */
export const MODEL_TYPE_FIELD = 'model'

/** `$meta` field naming a model's action set (the actions plugin's ACTIONS_META_KEY). */
const ACTIONS_FIELD = 'actions'

/** Default root map names. */
export const ROOT_MAP = 'root'
export const INSTANCES_MAP = 'instances'

/** A model type with no schema: views of models whose type is unknown. */
const GENERIC: ModelType = {
  modelName: '$generic',
  fields: {},
  viewClass: RealtimeModel as unknown as ModelType['viewClass'],
}

export interface InstantiateOptions<M extends ModelType> {
  /** Claim the new model for this client in the same update. Default true (as Normcore). */
  ownedByClient?: boolean
  /** Default false. */
  preventOwnershipTakeover?: boolean
  /** Default true: the server deletes the model when its owner (or the last client) leaves. */
  destroyWhenOwnerOrLastClientLeaves?: boolean
  /** Where to put it: a RealtimeSet, RealtimeArray or RealtimeDictionary (with `key`). Default: the instance set. */
  in?: RealtimeSet<M> | RealtimeArray<M> | RealtimeDictionary<M> | RealtimeSet<ModelType>
  /** Key in a RealtimeDictionary. */
  key?: number
  /** Initial property values. */
  init?: InitOf<M>
  /**
   * Attach an action set (SPEC §8): its name, or the set. Writes `$meta.actions`, so the
   * model changes through `room.patch(model, ...)`; with an action-only set, direct writes
   * are rolled back. Clients cannot create server-owned models (ownerID 0): that takes
   * backend code (docs/sdk.md, Actions).
   */
  actions?: string | { readonly name: string }
}

export interface DatastoreHost {
  request(method: string, params: AnyValue): Promise<Response>
}

export class Datastore<R extends ModelType = ModelType> {
  readonly rejections = new RejectionTracker()
  private views = new WeakMap<Y.Map<unknown>, Map<ModelType, RealtimeModel>>()
  private rootType: R | null

  constructor(
    readonly doc: Y.Doc,
    private readonly host: DatastoreHost,
    rootType?: R,
  ) {
    this.rootType = rootType ?? null
    doc.on('afterTransaction', this.onAfterTransaction)
  }

  destroy(): void {
    this.doc.off('afterTransaction', this.onAfterTransaction)
  }

  /** This client's id (the Y.Doc's clientID): what `ownerID` holds for models it owns. */
  get clientID(): number {
    return this.doc.clientID
  }

  /** Runs `fn` as one transaction: its changes go out together and fire events once. */
  transact<T>(fn: () => T): T {
    let result!: T
    this.doc.transact(() => {
      result = fn()
    })
    return result
  }

  /** @internal */
  request(method: string, params: AnyValue): Promise<Response> {
    return this.host.request(method, params)
  }

  /** The root model (`doc.getMap('root')`), typed by `connect({ model })`. */
  get root(): InstanceOf<R> {
    return this.rootOf((this.rootType ?? GENERIC) as R, ROOT_MAP)
  }

  /** A typed view over the top-level map `name`. */
  rootOf<M extends ModelType>(type: M, name: string): InstanceOf<M> {
    return this.elementView(this.doc.getMap(name), type) as InstanceOf<M>
  }

  /** The instance set: where `instantiate` puts models by default (several types). */
  get instances(): RealtimeSet<ModelType> {
    const map = this.doc.getMap<unknown>(INSTANCES_MAP)
    let byType = this.views.get(map)
    const existing = byType?.get(GENERIC)
    if (existing instanceof RealtimeSet) return existing as RealtimeSet<ModelType>
    const set = new RealtimeSet<ModelType>(this as Datastore, { kind: 'map', map }, null)
    if (!byType) this.views.set(map, (byType = new Map()))
    byType.set(GENERIC, set)
    return set
  }

  /** The instantiated models of one type in the instance set. */
  *instancesOf<M extends ModelType>(type: M): IterableIterator<InstanceOf<M>> {
    for (const m of this.instances) {
      const name = (m.yMap?.get(META_KEY) as Y.Map<unknown> | undefined)?.get(MODEL_TYPE_FIELD)
      if (name === type.modelName) yield this.elementView(m.yMap!, type) as InstanceOf<M>
    }
  }

  /**
   * Creates a model of `type` with its meta-model (owner, lifetime flags) and inserts it:
   * creation and claim reach the server as one update (Normcore's Instantiate).
   */
  instantiate<M extends ModelType>(type: M, options: InstantiateOptions<M> = {}): InstanceOf<M> {
    const meta: Record<string, number | boolean | string> = {
      [OWNER_ID]: options.ownedByClient === false ? UNOWNED : this.clientID,
      [PREVENT_OWNERSHIP_TAKEOVER]: options.preventOwnershipTakeover ?? false,
      [DESTROY_WHEN_OWNER_LEAVES]: options.destroyWhenOwnerOrLastClientLeaves ?? true,
      [MODEL_TYPE_FIELD]: type.modelName,
    }
    if (options.actions !== undefined) meta[ACTIONS_FIELD] = typeof options.actions === 'string' ? options.actions : options.actions.name
    const prelim = buildModel(type, (options.init ?? {}) as Record<string, unknown>, meta)
    const target = options.in ?? this.instances
    let map: Y.Map<unknown>
    if (target instanceof RealtimeDictionary) {
      if (options.key === undefined) throw new TypeError('instantiate into a RealtimeDictionary needs a key')
      map = target._insert(options.key, prelim).yMap!
    } else if (target instanceof RealtimeArray || target instanceof RealtimeSet) {
      map = (target as RealtimeSet<ModelType>)._insert(prelim).yMap!
    } else {
      throw new TypeError('instantiate: `in` must be a RealtimeSet, RealtimeArray or RealtimeDictionary')
    }
    return this.elementView(map, type) as InstanceOf<M>
  }

  /**
   * The root model's skeleton (its child models, collections and texts) as a Yjs update
   * for the server's `datastore.ensure`, or null when nothing is missing locally.
   */
  skeletonUpdate(): Uint8Array | null {
    if (this.rootType === null) return null
    const scratch = new Y.Doc()
    const want = scratch.getMap<unknown>(SKELETON_ROOT)
    for (const [key, p] of Object.entries(this.rootType.fields)) {
      if (p.kind === 'text' || needsMap(p)) want.set(key, buildProp(p, undefined, key))
    }
    const update = missingIn(this.doc.getMap(ROOT_MAP), want) ? Y.encodeStateAsUpdate(scratch) : null
    scratch.destroy()
    return update
  }

  /** Creates the missing child models, collections and texts of the root model locally (servers without datastore.ensure). */
  ensureRootSkeleton(): void {
    if (this.rootType === null) return
    const root = this.root as RealtimeModel
    if (root.isOwnedRemotelyInHierarchy) return
    const map = root.yMap!
    const fields = this.rootType.fields
    const missing = Object.keys(fields).filter((k) =>
      fields[k].kind === 'text' ? !(map.get(k) instanceof Y.Text) : needsMap(fields[k]) && !(map.get(k) instanceof Y.Map),
    )
    if (missing.length === 0) return
    this.transact(() => {
      for (const key of missing) {
        if (fields[key].kind === 'text') map.set(key, new Y.Text())
        else slotView(this, root, key, fields[key])._ensure()
      }
    })
  }

  /** @internal The view of `map` as a model of `type` (null: the type its `$meta.model` names). */
  elementView(map: Y.Map<unknown>, type: ModelType | null): RealtimeModel {
    const t = type ?? typeOf(map)
    let byType = this.views.get(map)
    const cached = byType?.get(t)
    if (cached) return cached
    const view = new t.viewClass(...([this, { kind: 'map', map }] as never[]))
    if (!byType) this.views.set(map, (byType = new Map()))
    byType.set(t, view)
    return view
  }

  /** The existing views of `map`: views bound to it, and slot views whose slot holds it. */
  private viewsOf(map: Y.Map<unknown>): RealtimeModel[] {
    const out: RealtimeModel[] = []
    const bound = this.views.get(map)
    if (bound) out.push(...bound.values())
    const item = map._item
    if (item && item.parentSub !== null && item.parent instanceof Y.Map) {
      for (const pv of this.viewsOf(item.parent as Y.Map<unknown>)) {
        const child = pv._children.get(item.parentSub)
        if (child && child.yMap === map) out.push(child)
      }
    }
    return out
  }

  // ---- event dispatch -----------------------------------------------------------------

  private onAfterTransaction = (tr: Y.Transaction): void => {
    if (tr.changedParentTypes.size === 0) return
    const remote = !tr.local
    const sourceOf: SourceOf = (at, key) => {
      if (!remote) return 'local'
      if (this.rejections.size === 0) return 'remote'
      const base = typeof at === 'function' ? at() : pathOfType(at)
      return this.rejections.match(key === undefined ? base : [...base, key]) ? 'rollback' : 'remote'
    }
    const batch = new EventBatch(sourceOf)
    const roots = [...tr.changedParentTypes].filter(([type]) => type._item === null) // each event is listed under its root once
    for (const [, events] of roots) for (const ev of events) this.captureRemoved(ev)
    for (const [, events] of roots) for (const ev of events) this.dispatch(ev, batch)
    batch.finish()
    if (remote) this.rejections.endTransaction()
  }

  /** Gives the views of models this event removed their last values (readable in modelRemoved and after). */
  private captureRemoved(ev: Y.YEvent<Y.AbstractType<unknown>>): void {
    if (ev instanceof Y.YMapEvent) {
      for (const [, change] of ev.changes.keys) if (change.oldValue instanceof Y.Map) this.snapshotTree(change.oldValue)
    } else if (ev instanceof Y.YArrayEvent) {
      for (const item of ev.changes.deleted) {
        if (item.content instanceof Y.ContentType && item.content.type instanceof Y.Map) this.snapshotTree(item.content.type)
      }
    }
  }

  private snapshotTree(map: Y.Map<unknown>): Record<string, unknown> {
    const snap: Record<string, unknown> = {}
    for (const [key, item] of map._map) {
      const content = item.content
      if (content instanceof Y.ContentDeleted) continue
      if (content instanceof Y.ContentType) {
        snap[key] = content.type instanceof Y.Map ? this.snapshotTree(content.type as Y.Map<unknown>) : content.type
        if (content.type instanceof Y.Array) this.snapshotArray(content.type)
      } else {
        const values = content.getContent()
        snap[key] = values[values.length - 1]
      }
    }
    const bound = this.views.get(map)
    if (bound) for (const v of bound.values()) v._snapshot = snap
    return snap
  }

  private snapshotArray(arr: Y.Array<unknown>): void {
    for (let item = arr._start; item !== null; item = item.right) {
      if (item.content instanceof Y.ContentType && item.content.type instanceof Y.Map) this.snapshotTree(item.content.type)
    }
  }

  private dispatch(ev: Y.YEvent<Y.AbstractType<unknown>>, batch: EventBatch): void {
    const target = ev.target
    const item = target._item
    const parent = item?.parent instanceof Y.Map ? (item.parent as Y.Map<unknown>) : null
    if (target instanceof Y.Map) {
      if (parent !== null && item!.parentSub === META_KEY) {
        for (const v of this.viewsOf(parent)) batch.ownerCheck(v)
        return
      }
      for (const v of this.viewsOf(target)) this.dispatchMapEvent(v, ev as unknown as Y.YMapEvent<unknown>, batch)
      return
    }
    // A Y.Array / Y.Text / XML type: a property of its parent model, or a RealtimeArray's items.
    if (parent === null || item!.parentSub === null) return
    for (const v of this.viewsOf(parent)) {
      if (v instanceof Collection) v._dispatch(ev, batch.sourceOf)
      else batch.property(v, item!.parentSub, target, undefined, target)
    }
  }

  private dispatchMapEvent(view: RealtimeModel, ev: Y.YMapEvent<unknown>, batch: EventBatch): void {
    if (ev.keysChanged.has(META_KEY)) batch.ownerCheck(view)
    if (view instanceof Collection) {
      view._dispatch(ev as unknown as Y.YEvent<Y.AbstractType<unknown>>, batch.sourceOf)
      return
    }
    const fields = (view.constructor as { fields?: Record<string, Prop> }).fields ?? {}
    for (const [key, change] of ev.changes.keys) {
      if (key === META_KEY) continue
      const p = fields[key]
      let value: unknown = ev.target.get(key)
      if (p && (p.kind === 'model' || isCollectionProp(p))) {
        const child = view._children.get(key)
        value = child ?? slotView(this, view, key, p)
        if (child) {
          batch.ownerCheck(child)
          if (child instanceof Collection) child._dispatchAppeared(batch.sourceOf)
        }
      } else if (value === undefined && p && 'default' in p) {
        value = p.default
      }
      let previous = change.oldValue instanceof Y.AbstractType ? undefined : change.oldValue
      if (previous === undefined && p && 'default' in p) previous = p.default // unset read as the default
      // A rewrite with the same plain value (e.g. a compensation restoring what an observer
      // already had, or a first write of the default) is not a change.
      if (change.action !== 'delete' && typeof value !== 'object' && Object.is(value, previous)) continue
      batch.property(view, key, value, previous, ev.target, key)
    }
  }
}

/** True when `want` has a shared type (at any depth) that `have` lacks. */
function missingIn(have: Y.Map<unknown>, want: Y.Map<unknown>): boolean {
  for (const [key, value] of want.entries()) {
    if (!(value instanceof Y.AbstractType)) continue
    const cur = have.get(key)
    if (cur === undefined) return true
    if (cur instanceof Y.Map && value instanceof Y.Map && missingIn(cur as Y.Map<unknown>, value as Y.Map<unknown>)) return true
  }
  return false
}

function needsMap(p: Prop): boolean {
  return p.kind === 'model' || isCollectionProp(p)
}

/** `map[key]`, also for a removed map (whose content is deleted but not yet collected). */
function rawGet(map: Y.Map<unknown>, key: string): unknown {
  const item = map._map.get(key)
  if (!item || item.content instanceof Y.ContentDeleted) return undefined
  const values = item.content.getContent()
  return values[values.length - 1]
}

function typeOf(map: Y.Map<unknown>): ModelType {
  const removed = map._item?.deleted === true
  const meta = removed ? rawGet(map, META_KEY) : map.get(META_KEY)
  const name = meta instanceof Y.Map ? (removed ? rawGet(meta as Y.Map<unknown>, MODEL_TYPE_FIELD) : meta.get(MODEL_TYPE_FIELD)) : undefined
  return (typeof name === 'string' ? modelTypeByName(name) : undefined) ?? GENERIC
}

/** Collects one transaction's events so model-level events fire once per model, after property events. */
class EventBatch {
  private models = new Map<RealtimeModel, PropertyChange[]>()
  private owners = new Set<RealtimeModel>()

  constructor(readonly sourceOf: SourceOf) {}

  /** A property change of `view`; the change happened at `atKey` of `at` (or in `at` itself). */
  property(view: RealtimeModel, key: string, value: unknown, previous: unknown, at: SharedType, atKey?: string): void {
    const change: PropertyChange = { model: view, key, value, previous, source: this.sourceOf(at, atKey) }
    const events = view._events as unknown as { emit(name: string, e: unknown): void; has(name: string): boolean }
    if (events.has(`${key}DidChange`)) events.emit(`${key}DidChange`, change)
    let list = this.models.get(view)
    if (!list) this.models.set(view, (list = []))
    list.push(change)
  }

  ownerCheck(view: RealtimeModel): void {
    this.owners.add(view)
  }

  finish(): void {
    for (const [model, changes] of this.models) {
      const source: ChangeSource = changes.some((c) => c.source === 'rollback')
        ? 'rollback'
        : changes.some((c) => c.source === 'remote')
          ? 'remote'
          : 'local'
      ;(model._events as unknown as { emit(name: string, e: unknown): void }).emit('change', { model, changes, source })
    }
    for (const view of this.owners) {
      const now = view.ownerIDSelf
      const previous = view._lastOwner
      if (now === previous) continue
      view._lastOwner = now
      const source = this.sourceOf(() => [...view.path, META_KEY, OWNER_ID])
      ;(view._events as unknown as { emit(name: string, e: unknown): void }).emit('ownerIDSelfDidChange', {
        model: view,
        ownerID: now,
        previous,
        source,
      })
    }
  }
}
