/**
 * StringKeyDictionary<M> (§5): models under string keys, changed only through requests
 * the server confirms. `insert`, `remove` and `clear` resolve to true (applied) or false
 * (refused: someone changed the key, or for clear the dictionary, first; or the client may
 * not write here). Nothing is visible locally until the server applied it; when the
 * promise resolves true, the change is already in the local document.
 */
import * as Y from 'yjs'
import { META_KEY } from '../../shared/layout.js'
import { buildModel } from '../populate.js'
import type { InitOf, InstanceOf, ModelType } from '../schema.js'
import { Collection, modelEntries, type SourceOf } from './collection.js'
import { dispatchDictionary, type DictionaryEvents } from './dictionary.js'
import {
  dictionaryVersion,
  keyVersion,
  SKD_CLEAR,
  SKD_INSERT,
  SKD_REMOVE,
  SKD_VALUE_KEY,
  SKD_VALUE_ROOT,
} from '../../shared/protocol/string-key-dictionary.js'

function stringKey(raw: string): string | null {
  return raw === META_KEY ? null : raw
}

export class StringKeyDictionary<M extends ModelType> extends Collection<M, DictionaryEvents<M, string>> {
  get size(): number {
    let n = 0
    for (const _ of modelEntries(this.yMap)) n++
    return n
  }

  get(key: string): InstanceOf<M> | undefined {
    if (key === META_KEY) return undefined
    const m = this.yMap?.get(key)
    return m instanceof Y.Map ? this._view(m as Y.Map<unknown>) : undefined
  }

  has(key: string): boolean {
    return this.get(key) !== undefined
  }

  *keys(): IterableIterator<string> {
    for (const [k] of modelEntries(this.yMap)) yield k
  }

  *entries(): IterableIterator<[string, InstanceOf<M>]> {
    for (const [k, m] of modelEntries(this.yMap)) yield [k, this._view(m)]
  }

  *values(): IterableIterator<InstanceOf<M>> {
    for (const [, m] of modelEntries(this.yMap)) yield this._view(m)
  }

  [Symbol.iterator](): IterableIterator<[string, InstanceOf<M>]> {
    return this.entries()
  }

  /** The dictionary's version: the number of changes the server applied to it. */
  get version(): number {
    return dictionaryVersion(this.yMap)
  }

  /** The dictionary version of `key`'s last change (0 if it never changed). */
  versionOf(key: string): number {
    return keyVersion(this.yMap, key)
  }

  /**
   * Asks the server to store a new model under `key` (adding or replacing). Resolves true
   * once applied, false when `key` changed on the server since this client's view of it.
   */
  insert(key: string, init?: InitOf<M>): Promise<boolean> {
    if (this.elementType === null) return Promise.reject(new TypeError('dictionary without element type'))
    const scratch = new Y.Doc()
    scratch.getMap(SKD_VALUE_ROOT).set(SKD_VALUE_KEY, buildModel(this.elementType, init as Record<string, unknown> | undefined))
    const value = Y.encodeStateAsUpdate(scratch)
    scratch.destroy()
    return this.send(SKD_INSERT, { key, version: this.versionOf(key), value })
  }

  /** Asks the server to remove `key`. Resolves false when it changed since this client saw it, or is absent. */
  remove(key: string): Promise<boolean> {
    return this.send(SKD_REMOVE, { key, version: this.versionOf(key) })
  }

  /** Asks the server to remove every key. Resolves false when the dictionary changed since this client saw it. */
  clear(): Promise<boolean> {
    return this.send(SKD_CLEAR, { version: this.version })
  }

  private async send(method: string, params: { [k: string]: string | number | Uint8Array }): Promise<boolean> {
    // The dictionary must exist on the server: create it (if new) in the frame that the
    // request flushes ahead of itself.
    this._write(() => undefined)
    const res = await this._ds.request(method, { path: this.path, ...params })
    if (res.ok) return res.result === true
    const reason = (res.result as { reason?: unknown } | null)?.reason
    if (reason === 'unknown-method') {
      throw new Error(`the server does not handle ${method}: enable the string-key-dictionary plugin`)
    }
    return false
  }

  /** @internal */
  _dispatch(event: Y.YEvent<Y.AbstractType<unknown>>, sourceOf: SourceOf): void {
    dispatchDictionary<M, string>(this as never, event, sourceOf, stringKey)
  }

  /** @internal */
  _dispatchAppeared(sourceOf: SourceOf): void {
    const map = this.yMap
    if (!map) return
    for (const [k, m] of modelEntries(map)) {
      this._events.emit('modelAdded', { dictionary: this, key: k, model: this._view(m), source: sourceOf(map, k) })
    }
  }
}
