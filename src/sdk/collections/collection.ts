/**
 * What the four collections share: a collection is a model (its own Y.Map with
 * `$meta.collection`, ownable like any model) whose elements are models of one type.
 */
import * as Y from 'yjs'
import { META_KEY } from '../../shared/layout.js'
import { RealtimeModel, type Binding, type ChangeSource, type ModelEvents } from '../base.js'
import type { Datastore } from '../datastore.js'
import type { EventMap } from '../emitter.js'
import type { InstanceOf, ModelType } from '../schema.js'

/**
 * Decides the source of a change (local / remote / rollback) at `key` of the shared type
 * `at` (or at a path computed on demand). Paths are only computed when a rejection is pending.
 */
export type SourceOf = (at: SharedType | (() => Array<string | number>), key?: string) => ChangeSource
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type SharedType = Y.AbstractType<any>

export abstract class Collection<M extends ModelType, E extends EventMap> extends RealtimeModel<
  Record<string, never>,
  ModelEvents<Record<string, never>> & E
> {
  constructor(
    ds: Datastore,
    binding: Binding,
    /** The element type; null for the datastore's instance set, which holds several types. */
    readonly elementType: M | null,
  ) {
    super(ds, binding)
  }

  /** @internal The view of an element map (one view per map and type: identity is stable). */
  _view(map: Y.Map<unknown>): InstanceOf<M> {
    return this._ds.elementView(map, this.elementType) as InstanceOf<M>
  }

  /** @internal Emits element events for one Yjs event on the collection's map or items. */
  abstract _dispatch(event: Y.YEvent<Y.AbstractType<unknown>>, sourceOf: SourceOf): void

  /** @internal Emits "added" for every element of a collection map that just appeared (created or replaced). */
  abstract _dispatchAppeared(sourceOf: SourceOf): void
}

/** Element entries of a map-based collection (every key but $meta whose value is a model). */
export function* modelEntries(map: Y.Map<unknown> | undefined): Generator<[string, Y.Map<unknown>]> {
  if (!map) return
  for (const [key, value] of map.entries()) {
    if (key !== META_KEY && value instanceof Y.Map) yield [key, value as Y.Map<unknown>]
  }
}
