/**
 * StringKeyDictionary wire and layout details, shared by the SDK and the server plugin
 * (plugins/datastore/string-key-dictionary.ts).
 *
 * Layout: a Y.Map with `$meta.collection = 'stringKeyDictionary'`; elements are its entries.
 * The server keeps versions in the meta-model: `$meta.version` counts accepted changes of
 * the dictionary, `$meta.versions` (a Y.Map) holds, per key, the dictionary version of the
 * key's last change (kept after a removal, so a stale insert is still recognized).
 *
 * Requests (extension REQUEST, §7); each answers `true` (applied) or `false` (refused
 * because the key, or for clear the dictionary, changed since the version the client saw):
 *   skd.insert { path, key, version, value }  value = Yjs update of a scratch doc whose
 *                                             map 'skd' holds the new model under 'value'
 *   skd.remove { path, key, version }
 *   skd.clear  { path, version }
 */
import * as Y from 'yjs'
import { META_KEY } from '../layout.js'
import { metaModelOf } from '../model-tree.js'
import type { AnyValue, ModelPath } from './extension.js'

export const SKD_INSERT = 'skd.insert'
export const SKD_REMOVE = 'skd.remove'
export const SKD_CLEAR = 'skd.clear'

/** `$meta` field: number of accepted changes of the dictionary. */
export const SKD_VERSION = 'version'
/** `$meta` field: Y.Map from key to the dictionary version of its last change. */
export const SKD_VERSIONS = 'versions'

/** In the `value` update of skd.insert: root map and key holding the new model. */
export const SKD_VALUE_ROOT = 'skd'
export const SKD_VALUE_KEY = 'value'

export interface SkdKeyParams {
  path: ModelPath
  key: string
  version: number
}
export interface SkdInsertParams extends SkdKeyParams {
  value: Uint8Array
}
export interface SkdClearParams {
  path: ModelPath
  version: number
}

function record(params: AnyValue): Record<string, AnyValue> {
  if (typeof params !== 'object' || params === null || Array.isArray(params) || params instanceof Uint8Array) {
    throw new TypeError('params must be an object')
  }
  return params as Record<string, AnyValue>
}

function path(v: AnyValue): ModelPath {
  if (!Array.isArray(v) || v.length === 0 || typeof v[0] !== 'string' || !v.every((s) => typeof s === 'string' || typeof s === 'number')) {
    throw new TypeError('path must be a non-empty array of keys and indexes')
  }
  return v as ModelPath
}

function version(v: AnyValue): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new TypeError('version must be an unsigned integer')
  return v
}

function key(v: AnyValue): string {
  if (typeof v !== 'string' || v.length === 0 || v === META_KEY) throw new TypeError(`key must be a non-empty string other than ${META_KEY}`)
  return v
}

export function parseKeyParams(params: AnyValue): SkdKeyParams {
  const p = record(params)
  return { path: path(p.path), key: key(p.key), version: version(p.version) }
}

export function parseInsertParams(params: AnyValue): SkdInsertParams {
  const p = record(params)
  if (!(p.value instanceof Uint8Array)) throw new TypeError('value must be a Yjs update')
  return { ...parseKeyParams(params), value: p.value }
}

export function parseClearParams(params: AnyValue): SkdClearParams {
  const p = record(params)
  return { path: path(p.path), version: version(p.version) }
}

/** The dictionary's version (0 before any change). */
export function dictionaryVersion(dict: Y.Map<unknown> | undefined): number {
  const v = metaModelOf(dict)?.get(SKD_VERSION)
  return typeof v === 'number' ? v : 0
}

/** The version of `key`'s last change (0 if it never changed). */
export function keyVersion(dict: Y.Map<unknown> | undefined, k: string): number {
  const versions = metaModelOf(dict)?.get(SKD_VERSIONS)
  const v = versions instanceof Y.Map ? versions.get(k) : undefined
  return typeof v === 'number' ? v : 0
}
