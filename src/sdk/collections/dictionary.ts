/**
 * RealtimeDictionary<M> (§5): models under unsigned integer keys (stored as decimal
 * strings). Add, replace, remove; events `modelAdded`, `modelReplaced`, `modelRemoved`.
 */
import * as Y from 'yjs'
import { META_KEY } from '../../shared/layout.js'
import type { ChangeSource, RealtimeModel } from '../base.js'
import { buildModel } from '../populate.js'
import type { InitOf, InstanceOf, ModelType } from '../schema.js'
import { Collection, modelEntries, type SourceOf } from './collection.js'

export interface DictionaryElementEvent<M extends ModelType, K> {
  /** The RealtimeDictionary or StringKeyDictionary. */
  dictionary: RealtimeModel
  key: K
  model: InstanceOf<M>
  source: ChangeSource
}

export interface DictionaryReplaceEvent<M extends ModelType, K> extends DictionaryElementEvent<M, K> {
  previous: InstanceOf<M>
}

export type DictionaryEvents<M extends ModelType, K> = {
  modelAdded: (e: DictionaryElementEvent<M, K>) => void
  modelReplaced: (e: DictionaryReplaceEvent<M, K>) => void
  modelRemoved: (e: DictionaryElementEvent<M, K>) => void
}

/** Emits dictionary events for a Y.Map event; shared by RealtimeDictionary and StringKeyDictionary. */
export function dispatchDictionary<M extends ModelType, K>(
  target: { _events: { emit(name: string, e: unknown): void }; _view(map: Y.Map<unknown>): InstanceOf<M> },
  event: Y.YEvent<Y.AbstractType<unknown>>,
  sourceOf: SourceOf,
  toKey: (k: string) => K | null,
): void {
  if (!(event instanceof Y.YMapEvent)) return
  for (const [raw, change] of event.changes.keys) {
    const key = raw === META_KEY ? null : toKey(raw)
    if (key === null) continue
    const source = sourceOf(event.target, raw)
    const now = event.target.get(raw)
    const old = change.oldValue
    const nowModel = now instanceof Y.Map ? target._view(now as Y.Map<unknown>) : null
    const oldModel = old instanceof Y.Map ? target._view(old) : null
    if (nowModel && oldModel) target._events.emit('modelReplaced', { dictionary: target, key, model: nowModel, previous: oldModel, source })
    else if (nowModel) target._events.emit('modelAdded', { dictionary: target, key, model: nowModel, source })
    else if (oldModel) target._events.emit('modelRemoved', { dictionary: target, key, model: oldModel, source })
  }
}

function uintKey(raw: string): number | null {
  return /^(0|[1-9][0-9]*)$/.test(raw) && Number.isSafeInteger(Number(raw)) ? Number(raw) : null
}

function checkKey(key: number): string {
  if (!Number.isSafeInteger(key) || key < 0) throw new TypeError(`RealtimeDictionary keys are unsigned integers, not ${key}`)
  return String(key)
}

export class RealtimeDictionary<M extends ModelType> extends Collection<M, DictionaryEvents<M, number>> {
  get size(): number {
    let n = 0
    for (const [k] of modelEntries(this.yMap)) if (uintKey(k) !== null) n++
    return n
  }

  get(key: number): InstanceOf<M> | undefined {
    const m = this.yMap?.get(checkKey(key))
    return m instanceof Y.Map ? this._view(m as Y.Map<unknown>) : undefined
  }

  has(key: number): boolean {
    return this.get(key) !== undefined
  }

  /** Creates a model under `key`, replacing the one there. */
  set(key: number, init?: InitOf<M>): InstanceOf<M> {
    if (this.elementType === null) throw new TypeError('dictionary without element type')
    return this._insert(key, buildModel(this.elementType, init as Record<string, unknown> | undefined))
  }

  /** @internal Stores a prepared model map (instantiate). */
  _insert(key: number, prelim: Y.Map<unknown>): InstanceOf<M> {
    const k = checkKey(key)
    this._write((map) => map.set(k, prelim))
    return this._view(prelim)
  }

  /** Removes the model under `key`; false when there is none. */
  delete(key: number): boolean {
    const k = checkKey(key)
    if (!(this.yMap?.get(k) instanceof Y.Map)) return false
    this._write((map) => map.delete(k))
    return true
  }

  *keys(): IterableIterator<number> {
    for (const [k] of modelEntries(this.yMap)) {
      const n = uintKey(k)
      if (n !== null) yield n
    }
  }

  *entries(): IterableIterator<[number, InstanceOf<M>]> {
    for (const [k, m] of modelEntries(this.yMap)) {
      const n = uintKey(k)
      if (n !== null) yield [n, this._view(m)]
    }
  }

  *values(): IterableIterator<InstanceOf<M>> {
    for (const [, m] of this.entries()) yield m
  }

  [Symbol.iterator](): IterableIterator<[number, InstanceOf<M>]> {
    return this.entries()
  }

  /** @internal */
  _dispatch(event: Y.YEvent<Y.AbstractType<unknown>>, sourceOf: SourceOf): void {
    dispatchDictionary<M, number>(this as never, event, sourceOf, uintKey)
  }

  /** @internal */
  _dispatchAppeared(sourceOf: SourceOf): void {
    const map = this.yMap
    if (!map) return
    for (const [k, m] of modelEntries(map)) {
      const key = uintKey(k)
      if (key !== null) this._events.emit('modelAdded', { dictionary: this, key, model: this._view(m), source: sourceOf(map, k) })
    }
  }
}
