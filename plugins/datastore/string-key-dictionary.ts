/**
 * Server side of StringKeyDictionary (SPEC §5): request methods `skd.insert`, `skd.remove`
 * and `skd.clear` with per-key versions, applied by the server as server edits, and an
 * onUpdate hook that rejects direct CRDT writes to a dictionary's entries or versions.
 *
 * Only the dictionary's own entries (and its version fields) are protected: the content of
 * an element model follows the ordinary rules, and a dictionary created with entries in one
 * update is accepted as created (no one else can have changed a key of a new dictionary).
 *
 * Wire format and layout: src/shared/protocol/string-key-dictionary.ts. Each request answers
 * `true` (applied; the change was broadcast before the answer, so the caller's document
 * already holds it) or `false` (the key, or for clear the dictionary, changed since the
 * version the caller saw; or a remove of an absent key). Malformed requests and requests
 * from clients that may not write the dictionary (rule 1) are refused with a reason.
 */
import * as Y from 'yjs'
import { COLLECTION, META_KEY, ROOM_MAP, UNOWNED } from '../../src/shared/layout.js'
import { resolvePath } from '../../src/shared/paths.js'
import { ownerOf } from '../../src/shared/model-tree.js'
import type { AnyValue, ModelPath } from '../../src/shared/protocol/extension.js'
import {
  dictionaryVersion,
  keyVersion,
  parseClearParams,
  parseInsertParams,
  parseKeyParams,
  SKD_CLEAR,
  SKD_INSERT,
  SKD_REMOVE,
  SKD_VALUE_KEY,
  SKD_VALUE_ROOT,
  SKD_VERSION,
  SKD_VERSIONS,
} from '../../src/shared/protocol/string-key-dictionary.js'
import type { Change } from '../../server/room/transaction-view.js'
import type { Connection } from '../../server/transport/connection.js'
import { Refusal, type RequestContext, type UpdateContext, type YroomPlugin, type RoomHandle } from '../../server/plugin.js'
import { decodeRequestUpdate } from '../../server/room/nesting.js'
import { metaBefore } from '../../server/room/meta-before.js'
import { isOwn, ownedByAnother } from './ownership.js'

const KIND = 'stringKeyDictionary'
export const SKD_REJECT_REASON = 'string-key-dictionary'

/** Parses request params, turning a TypeError into a refusal the caller is told about. */
function parse<T>(fn: (p: AnyValue) => T, params: AnyValue): T {
  try {
    return fn(params)
  } catch (err) {
    throw new Refusal('invalid-params', (err as Error).message)
  }
}

function isSkd(map: Y.Map<unknown>): boolean {
  const meta = map.get(META_KEY)
  return meta instanceof Y.Map && meta.get(COLLECTION) === KIND
}

function dictionaryAt(room: RoomHandle, conn: Connection, path: ModelPath): Y.Map<unknown> {
  if (conn.readOnly) throw new Refusal('read-only', 'this connection is read-only')
  if (path[0] === ROOM_MAP) throw new Refusal('server-only', `${ROOM_MAP} is written only by the server`)
  const dict = resolvePath(room.doc, path)
  if (!(dict instanceof Y.Map) || !isSkd(dict)) throw new Refusal('not-found', `no StringKeyDictionary at ${JSON.stringify(path)}`)
  if (ownedByAnother(room, conn, dict)) throw new Refusal('owned-by-another', 'the dictionary or an ancestor is owned by another client')
  return dict
}

/** Records a change of `keys`: the dictionary version goes up by one and each key takes it. */
function bump(dict: Y.Map<unknown>, keys: string[]): void {
  const meta = dict.get(META_KEY) as Y.Map<unknown>
  const version = dictionaryVersion(dict) + 1
  meta.set(SKD_VERSION, version)
  let versions = meta.get(SKD_VERSIONS)
  if (!(versions instanceof Y.Map)) {
    versions = new Y.Map<unknown>()
    meta.set(SKD_VERSIONS, versions)
  }
  for (const k of keys) (versions as Y.Map<unknown>).set(k, version)
}

/** The model carried by an insert request, checked: a Y.Map whose claims are -1 or the caller's. */
function decodeValue(room: RoomHandle, conn: Connection, update: Uint8Array, dict: Y.Map<unknown>): Y.Map<unknown> {
  // The value sits one level below the scratch root, as it will below the dictionary.
  const scratch = decodeRequestUpdate(update, dict, room.limits.maxNestingDepth)
  const value = scratch.getMap(SKD_VALUE_ROOT).get(SKD_VALUE_KEY)
  if (!(value instanceof Y.Map)) throw new Refusal('invalid-value', 'value holds no model')
  const bad = foreignClaim(room, conn, value)
  if (bad !== null) throw new Refusal('not-own-id', `a new model may be owned only by its creator, not ${bad}`)
  return value as Y.Map<unknown>
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function foreignClaim(room: RoomHandle, conn: Connection, type: Y.AbstractType<any>): number | null {
  if (type instanceof Y.Map) {
    const owner = ownerOf(type)
    if (owner !== UNOWNED && !isOwn(room, conn, owner)) return owner
    for (const v of type.values()) {
      if (v instanceof Y.AbstractType) {
        const bad = foreignClaim(room, conn, v)
        if (bad !== null) return bad
      }
    }
  } else if (type instanceof Y.Array) {
    for (const v of type.toArray()) {
      if (v instanceof Y.AbstractType) {
        const bad = foreignClaim(room, conn, v)
        if (bad !== null) return bad
      }
    }
  }
  return null
}

/** Applies a server edit and waits until it was broadcast, so the answer arrives after the change. */
async function edit(room: RoomHandle, fn: () => void): Promise<true> {
  room.transactAsServer(fn)
  await room.flush()
  return true
}

async function insert({ room, connection }: RequestContext, params: AnyValue): Promise<boolean> {
  const p = parse(parseInsertParams, params)
  const dict = dictionaryAt(room, connection, p.path)
  const value = decodeValue(room, connection, p.value, dict)
  if (keyVersion(dict, p.key) !== p.version) return false
  return edit(room, () => {
    dict.set(p.key, value.clone())
    bump(dict, [p.key])
  })
}

async function remove({ room, connection }: RequestContext, params: AnyValue): Promise<boolean> {
  const p = parse(parseKeyParams, params)
  const dict = dictionaryAt(room, connection, p.path)
  if (keyVersion(dict, p.key) !== p.version || !dict.has(p.key)) return false
  return edit(room, () => {
    dict.delete(p.key)
    bump(dict, [p.key])
  })
}

async function clear({ room, connection }: RequestContext, params: AnyValue): Promise<boolean> {
  const p = parse(parseClearParams, params)
  const dict = dictionaryAt(room, connection, p.path)
  if (dictionaryVersion(dict) !== p.version) return false
  const keys = [...dict.keys()].filter((k) => k !== META_KEY)
  if (keys.length === 0) return true
  return edit(room, () => {
    for (const k of keys) dict.delete(k)
    bump(dict, keys)
  })
}

/** The dictionary whose protected part `c` touches (its entries, or its version fields), else null. */
function protectedDictionary(ctx: UpdateContext, c: Change): Y.Map<unknown> | null {
  const parent = c.parent
  if (!(parent instanceof Y.Map)) return null
  if (c.key !== META_KEY && wasSkd(ctx, parent)) return parent
  const item = parent._item
  const above = item?.parent
  // A field of the dictionary's $meta: only the version fields are the server's.
  if (item?.parentSub === META_KEY && above instanceof Y.Map && (c.key === SKD_VERSION || c.key === SKD_VERSIONS) && wasSkd(ctx, above)) {
    return above as Y.Map<unknown>
  }
  // An entry of $meta.versions.
  const meta = above
  const dict = meta instanceof Y.Map ? meta._item?.parent : null
  if (item?.parentSub === SKD_VERSIONS && meta instanceof Y.Map && meta._item?.parentSub === META_KEY && dict instanceof Y.Map && wasSkd(ctx, dict as Y.Map<unknown>)) {
    return dict as Y.Map<unknown>
  }
  return null
}

/** The map is a string-key dictionary now or was one before this update (a changed marker must not open it). */
function wasSkd(ctx: UpdateContext, map: Y.Map<unknown>): boolean {
  const isNew = ctx.view.isNewType(map)
  // Meta items this update did not touch: the collection before the update is the current one.
  const untouched = isNew ? null : metaBefore(map, ctx.view)
  if (untouched !== null) return untouched.collection === KIND
  if (isSkd(map)) return true
  if (isNew) return false
  const meta = ctx.view.valueBefore(map, META_KEY)
  return meta instanceof Y.Map && ctx.view.valueBefore(meta, COLLECTION) === KIND
}

export function stringKeyDictionaryPlugin(): YroomPlugin {
  return {
    name: 'string-key-dictionary',
    onUpdate(ctx) {
      for (const c of ctx.view.changes) {
        if (ctx.isRejected(c)) continue
        if (protectedDictionary(ctx, c) !== null) {
          ctx.reject(c, SKD_REJECT_REASON, 'a StringKeyDictionary changes only through skd.insert / skd.remove / skd.clear requests')
        }
      }
    },
    requests: {
      [SKD_INSERT]: insert,
      [SKD_REMOVE]: remove,
      [SKD_CLEAR]: clear,
    },
  }
}
