/**
 * RealtimeModel: the part every model view shares (typed models and collections alike):
 * where its Y.Map is, the ownership API and lifetime flags of §9, and its events.
 *
 * A view holds no data. It is bound either to one Y.Map (roots, collection elements) or to
 * a slot, "property `key` of that parent model" (child models and collections declared in
 * a schema). A slot view follows whatever Y.Map sits in the slot, so it survives the map
 * being created later, replaced by a concurrent creation, or restored by a server rollback.
 */
import * as Y from 'yjs'
import {
  DESTROY_WHEN_OWNER_LEAVES,
  META_KEY,
  OWNER_ID,
  PREVENT_OWNERSHIP_TAKEOVER,
  SERVER_OWNER,
  UNOWNED,
} from '../shared/layout.js'
import type { ModelPath } from '../shared/protocol/extension.js'
import { pathOfType } from '../shared/paths.js'
import { ancestorModels, metaModelOf, ownerOf } from '../shared/model-tree.js'
import { Emitter, type EventMap } from './emitter.js'
import type { Fields, PropValue } from './schema.js'
import type { Datastore } from './datastore.js'

/** Who caused a change: this client, another client or the server, or a server rollback of ours. */
export type ChangeSource = 'local' | 'remote' | 'rollback'

export interface PropertyChange<V = unknown> {
  model: RealtimeModel
  key: string
  /** The value now (for Y.Text / child models: the shared type or view). */
  value: V
  /** The value before the change, for plain values; undefined otherwise. */
  previous: unknown
  source: ChangeSource
}

export interface ModelChange {
  model: RealtimeModel
  /** Changed properties of this model (not of its children), in no particular order. */
  changes: PropertyChange[]
  /** 'rollback' if any change was a rollback, else 'remote' or 'local'. */
  source: ChangeSource
}

export interface OwnerChange {
  model: RealtimeModel
  ownerID: number
  previous: number
  source: ChangeSource
}

/** Events every model has: `change`, `ownerIDSelfDidChange` and `<property>DidChange`. */
export type ModelEvents<F extends Fields> = {
  change: (e: ModelChange) => void
  ownerIDSelfDidChange: (e: OwnerChange) => void
} & { [K in keyof F & string as `${K}DidChange`]: (e: PropertyChange<PropValue<F[K]>>) => void }

export type Binding =
  | { kind: 'map'; map: Y.Map<unknown> }
  | { kind: 'slot'; parent: RealtimeModel; key: string; create: () => Y.Map<unknown> }

export class RealtimeModel<F extends Fields = Fields, E extends EventMap = ModelEvents<F>> {
  /** @internal */ readonly _ds: Datastore
  /** @internal */ readonly _binding: Binding
  /** @internal */ readonly _events = new Emitter<E>()
  /** @internal Child slot views, by property key. */
  readonly _children = new Map<string, RealtimeModel>()
  /** @internal Last ownerIDSelf seen by the dispatcher (for ownerIDSelfDidChange). */
  _lastOwner: number
  /** @internal The model's last values, captured when it was removed from the document. */
  _snapshot: Record<string, unknown> | undefined

  constructor(ds: Datastore, binding: Binding) {
    this._ds = ds
    this._binding = binding
    this._lastOwner = ownerOf(this.yMap)
  }

  // ---- the Y.Map underneath -----------------------------------------------------------

  /** The model's Y.Map, or undefined while a child slot was never written. */
  get yMap(): Y.Map<unknown> | undefined {
    const b = this._binding
    if (b.kind === 'map') return b.map
    const m = b.parent.yMap?.get(b.key)
    return m instanceof Y.Map ? m : undefined
  }

  /** @internal The model's Y.Map, created (with its parents) inside the current transaction if missing. */
  _ensure(): Y.Map<unknown> {
    const b = this._binding
    if (b.kind === 'map') return b.map
    const parent = b.parent._ensure()
    const m = parent.get(b.key)
    if (m instanceof Y.Map) return m
    const created = b.create()
    parent.set(b.key, created)
    return created
  }

  /** @internal Runs `fn` on the model's map inside one transaction of the room's document. */
  _write<T>(fn: (map: Y.Map<unknown>) => T): T {
    return this._ds.transact(() => fn(this._ensure()))
  }

  /** The model's place in the document: root name, then keys / indexes (as in rejection notices). */
  get path(): ModelPath {
    const b = this._binding
    if (b.kind === 'map') return pathOfType(b.map)
    return [...b.parent.path, b.key]
  }

  /** True when the model was removed from the document (e.g. deleted from its collection). */
  get isDeleted(): boolean {
    const b = this._binding
    if (b.kind === 'slot') return b.parent.isDeleted
    for (let item = b.map._item; item !== null; item = (item.parent as Y.AbstractType<unknown>)._item) {
      if (item.deleted) return true
    }
    return false
  }

  /** A JSON copy of the model's data (shared types converted). */
  toJSON(): Record<string, unknown> {
    return this.yMap?.toJSON() ?? {}
  }

  /**
   * @internal The last values of a removed model (or of a child of one): removed Yjs
   * content reads as empty, so the dispatcher captures it when the removal arrives.
   */
  _removedValues(): Record<string, unknown> | undefined {
    if (this._snapshot) return this._snapshot
    const b = this._binding
    if (b.kind === 'map') return undefined
    const v = b.parent._removedValues()?.[b.key]
    return typeof v === 'object' && v !== null && !(v instanceof Uint8Array) ? (v as Record<string, unknown>) : undefined
  }

  // ---- events -------------------------------------------------------------------------

  /** Subscribes to an event; returns the function that unsubscribes. */
  on<K extends keyof E & string>(name: K, fn: E[K]): () => void {
    return this._events.on(name, fn)
  }

  /** Like `on`, for the next event only. */
  once<K extends keyof E & string>(name: K, fn: E[K]): () => void {
    return this._events.once(name, fn)
  }

  off<K extends keyof E & string>(name: K, fn: E[K]): void {
    this._events.off(name, fn)
  }

  // ---- ownership (§9, Normcore names) ---------------------------------------------------

  /** Models above this one, nearest first (their Y.Maps). */
  private ancestors(): Y.Map<unknown>[] {
    const b = this._binding
    return b.kind === 'slot' ? b.parent.selfAndAncestors() : ancestorModels(b.map)
  }

  /** This model's map (if it exists) and the maps above it, nearest first. */
  private selfAndAncestors(): Y.Map<unknown>[] {
    const m = this.yMap
    if (m) return [m, ...ancestorModels(m)]
    return this._binding.kind === 'slot' ? this._binding.parent.selfAndAncestors() : []
  }

  /** ownerID of this model: a client id, -1 (unowned) or 0 (the server). */
  get ownerIDSelf(): number {
    return ownerOf(this.yMap)
  }

  /**
   * The owner whose ownership governs this model: the outermost owned model among this
   * one and its ancestors (ownership cascades down the hierarchy), or -1.
   */
  get ownerIDInHierarchy(): number {
    let owner = this.ownerIDSelf
    for (const m of this.ancestors()) {
      const o = ownerOf(m)
      if (o !== UNOWNED) owner = o
    }
    return owner
  }

  private get me(): number {
    return this._ds.clientID
  }

  get isOwnedLocallySelf(): boolean {
    return this.ownerIDSelf === this.me
  }

  get isOwnedRemotelySelf(): boolean {
    const o = this.ownerIDSelf
    return o !== UNOWNED && o !== this.me
  }

  get isUnownedSelf(): boolean {
    return this.ownerIDSelf === UNOWNED
  }

  get isOwnedLocallyInHierarchy(): boolean {
    return this.ownerIDInHierarchy === this.me
  }

  get isOwnedRemotelyInHierarchy(): boolean {
    const o = this.ownerIDInHierarchy
    return o !== UNOWNED && o !== this.me
  }

  get isUnownedInHierarchy(): boolean {
    return this.ownerIDInHierarchy === UNOWNED
  }

  /** True when some ancestor (not this model) is owned by someone else. */
  private ancestorOwnedByAnother(): boolean {
    return this.ancestors().some((m) => {
      const o = ownerOf(m)
      return o !== UNOWNED && o !== this.me
    })
  }

  /**
   * Claims this model for the local client. Takes effect at once; the server may still
   * refuse (then the claim and every change that needed it roll back, with 'rollback'
   * events). Returns false without writing when the server would refuse anyway: an
   * ancestor is owned by another client, the model is server-owned, or another client
   * owns it under preventOwnershipTakeover.
   */
  requestOwnership(): boolean {
    if (this.isOwnedLocallySelf) return true
    if (this.ancestorOwnedByAnother()) return false
    const current = this.ownerIDSelf
    if (current === SERVER_OWNER) return false
    if (current !== UNOWNED && this.takeoverPrevented()) return false
    this.setMeta(OWNER_ID, this.me)
    return true
  }

  /** Releases ownership (ownerID -1). Returns false without writing when it is not ours to release. */
  clearOwnership(): boolean {
    if (this.isUnownedSelf) return true
    if (this.isOwnedRemotelySelf || this.ancestorOwnedByAnother()) return false
    this.setMeta(OWNER_ID, UNOWNED)
    return true
  }

  private takeoverPrevented(): boolean {
    if (this.preventOwnershipTakeover) return true
    return this.ancestors().some((m) => metaModelOf(m)?.get(PREVENT_OWNERSHIP_TAKEOVER) === true)
  }

  // ---- lifetime flags -----------------------------------------------------------------

  /** When true, only an unowned model can be claimed (in this model and below). */
  get preventOwnershipTakeover(): boolean {
    return metaModelOf(this.yMap)?.get(PREVENT_OWNERSHIP_TAKEOVER) === true
  }

  set preventOwnershipTakeover(v: boolean) {
    this.setMeta(PREVENT_OWNERSHIP_TAKEOVER, v)
  }

  /** When true, the server deletes the model when its owner (or, unowned, the last client) leaves. */
  get destroyWhenOwnerOrLastClientLeaves(): boolean {
    return metaModelOf(this.yMap)?.get(DESTROY_WHEN_OWNER_LEAVES) === true
  }

  set destroyWhenOwnerOrLastClientLeaves(v: boolean) {
    this.setMeta(DESTROY_WHEN_OWNER_LEAVES, v)
  }

  /** @internal Writes one field of the meta-model, creating `$meta` if needed. */
  setMeta(field: string, value: number | boolean | string): void {
    this._write((map) => {
      let meta = map.get(META_KEY)
      if (!(meta instanceof Y.Map)) {
        meta = new Y.Map<unknown>()
        map.set(META_KEY, meta)
      }
      ;(meta as Y.Map<unknown>).set(field, value)
    })
  }
}
