/**
 * RealtimeArray<M> (§5): an append-only list of models in a Y.Array under `items`.
 * Removal is not offered; the server rejects removals and inserts anywhere but the end
 * (made by other Yjs code), and the rollback fires `modelAdded` / `modelRemoved` again.
 */
import * as Y from 'yjs'
import { ARRAY_ITEMS_KEY } from '../../shared/layout.js'
import type { ChangeSource } from '../base.js'
import { buildModel } from '../populate.js'
import type { InitOf, InstanceOf, ModelType } from '../schema.js'
import { Collection, type SourceOf } from './collection.js'

export interface ArrayElementEvent<M extends ModelType> {
  array: RealtimeArray<M>
  model: InstanceOf<M>
  /** Index of an added model (removed models have none: they are gone). */
  index: number
  source: ChangeSource
}

export type ArrayEvents<M extends ModelType> = {
  modelAdded: (e: ArrayElementEvent<M>) => void
  /** Only on rollbacks and server deletions: the SDK cannot remove. */
  modelRemoved: (e: ArrayElementEvent<M>) => void
}

export class RealtimeArray<M extends ModelType> extends Collection<M, ArrayEvents<M>> {
  /** The Y.Array of element maps, or undefined before the collection exists. */
  get yArray(): Y.Array<unknown> | undefined {
    const a = this.yMap?.get(ARRAY_ITEMS_KEY)
    return a instanceof Y.Array ? a : undefined
  }

  get length(): number {
    return this.yArray?.length ?? 0
  }

  get(index: number): InstanceOf<M> | undefined {
    const m = this.yArray?.get(index)
    return m instanceof Y.Map ? this._view(m as Y.Map<unknown>) : undefined
  }

  *[Symbol.iterator](): IterableIterator<InstanceOf<M>> {
    const a = this.yArray
    if (!a) return
    for (const m of a) if (m instanceof Y.Map) yield this._view(m as Y.Map<unknown>)
  }

  toArray(): InstanceOf<M>[] {
    return [...this]
  }

  /** Creates a model with the given initial values and appends it. */
  add(init?: InitOf<M>): InstanceOf<M> {
    if (this.elementType === null) throw new TypeError('array without element type')
    return this._insert(buildModel(this.elementType, init as Record<string, unknown> | undefined))
  }

  /** @internal Appends a prepared model map (instantiate). */
  _insert(prelim: Y.Map<unknown>): InstanceOf<M> {
    this._write((map) => {
      let items = map.get(ARRAY_ITEMS_KEY)
      if (!(items instanceof Y.Array)) {
        items = new Y.Array<unknown>()
        map.set(ARRAY_ITEMS_KEY, items)
      }
      const arr = items as Y.Array<unknown>
      arr.insert(arr.length, [prelim])
    })
    return this._view(prelim)
  }

  /** @internal */
  _dispatch(event: Y.YEvent<Y.AbstractType<unknown>>, sourceOf: SourceOf): void {
    if (!(event instanceof Y.YArrayEvent)) return
    const source = sourceOf(event.target)
    for (const item of event.changes.deleted) {
      const t = item.content instanceof Y.ContentType ? item.content.type : null
      if (t instanceof Y.Map) this._events.emit('modelRemoved', { array: this, model: this._view(t as Y.Map<unknown>), index: -1, source })
    }
    let index = 0
    for (const op of event.changes.delta) {
      if (op.retain !== undefined) index += op.retain
      else if (op.insert !== undefined) {
        const values = Array.isArray(op.insert) ? op.insert : [op.insert]
        for (const v of values) {
          if (v instanceof Y.Map) this._events.emit('modelAdded', { array: this, model: this._view(v as Y.Map<unknown>), index, source })
          index++
        }
      }
    }
  }

  /** @internal */
  _dispatchAppeared(sourceOf: SourceOf): void {
    const a = this.yArray
    if (!a) return
    const source = sourceOf(a)
    a.toArray().forEach((m, index) => {
      if (m instanceof Y.Map) this._events.emit('modelAdded', { array: this, model: this._view(m as Y.Map<unknown>), index, source })
    })
  }
}
