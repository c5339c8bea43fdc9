/**
 * RealtimeSet<M> (§5): unordered models under unique keys the SDK generates. Anyone that
 * rule 1 allows may add and remove; `modelAdded` / `modelRemoved` fire for local, remote
 * and rolled-back changes alike.
 */
import * as Y from 'yjs'
import { uuidv4 } from 'lib0/random'
import { META_KEY } from '../../shared/layout.js'
import type { ChangeSource, RealtimeModel } from '../base.js'
import { buildModel } from '../populate.js'
import type { InitOf, InstanceOf, ModelType } from '../schema.js'
import { Collection, modelEntries, type SourceOf } from './collection.js'

export interface SetElementEvent<M extends ModelType> {
  set: RealtimeSet<M>
  model: InstanceOf<M>
  key: string
  source: ChangeSource
}

export type SetEvents<M extends ModelType> = {
  modelAdded: (e: SetElementEvent<M>) => void
  modelRemoved: (e: SetElementEvent<M>) => void
}

export class RealtimeSet<M extends ModelType> extends Collection<M, SetEvents<M>> {
  /** Number of models in the set. */
  get size(): number {
    let n = 0
    for (const _ of modelEntries(this.yMap)) n++
    return n
  }

  *[Symbol.iterator](): IterableIterator<InstanceOf<M>> {
    for (const [, map] of modelEntries(this.yMap)) yield this._view(map)
  }

  /** The models, as an array (a copy of the list; the models are live views). */
  toArray(): InstanceOf<M>[] {
    return [...this]
  }

  /** Creates a model with the given initial values and adds it. */
  add(init?: InitOf<M>): InstanceOf<M> {
    const type = this.requireType()
    return this._insert(buildModel(type, init as Record<string, unknown> | undefined))
  }

  /** @internal Adds a prepared model map (instantiate). */
  _insert(prelim: Y.Map<unknown>): InstanceOf<M> {
    const key = uuidv4()
    this._write((map) => map.set(key, prelim))
    return this._view(prelim)
  }

  /** Removes `model`; false when it is not in this set. */
  remove(model: RealtimeModel): boolean {
    const key = this.keyOf(model)
    if (key === null) return false
    this._write((map) => map.delete(key))
    return true
  }

  has(model: RealtimeModel): boolean {
    return this.keyOf(model) !== null
  }

  /** The key under which `model` is stored, or null. */
  keyOf(model: RealtimeModel): string | null {
    const m = model.yMap
    const item = m?._item
    if (!m || !item || item.deleted || item.parent !== this.yMap || item.parentSub === null) return null
    return item.parentSub === META_KEY ? null : item.parentSub
  }

  private requireType(): M {
    if (this.elementType === null) throw new TypeError('this set holds several model types: use datastore.instantiate(Type, ...)')
    return this.elementType
  }

  /** @internal */
  _dispatch(event: Y.YEvent<Y.AbstractType<unknown>>, sourceOf: SourceOf): void {
    if (!(event instanceof Y.YMapEvent)) return
    for (const [key, change] of event.changes.keys) {
      if (key === META_KEY) continue
      const source = sourceOf(event.target, key)
      if (change.action !== 'add' && change.oldValue instanceof Y.Map) {
        this._events.emit('modelRemoved', { set: this, model: this._view(change.oldValue), key, source })
      }
      const now = event.target.get(key)
      if (change.action !== 'delete' && now instanceof Y.Map) {
        this._events.emit('modelAdded', { set: this, model: this._view(now as Y.Map<unknown>), key, source })
      }
    }
  }

  /** @internal */
  _dispatchAppeared(sourceOf: SourceOf): void {
    const map = this.yMap
    if (!map) return
    for (const [key, m] of modelEntries(map)) {
      this._events.emit('modelAdded', { set: this, model: this._view(m), key, source: sourceOf(map, key) })
    }
  }
}
