/**
 * Server side of the SDK's root model skeleton (request `datastore.ensure`, wire format in
 * src/shared/protocol/skeleton.ts).
 *
 * Why: the child models and collections a root model's schema declares are Y.Maps nested
 * in the root map. If two clients create the same missing child concurrently, Yjs keeps one
 * of the two maps and everything written into the other is lost. So after syncing, the SDK
 * sends the skeleton it expects (a Yjs update of a scratch doc) and the server, which
 * applies requests one at a time, creates only what is missing: shared types (maps, texts,
 * arrays) under keys that hold nothing. It never overwrites and never writes plain values.
 * Subtrees the caller may not write (rule 1) are skipped. Answers the number of types created,
 * after they were broadcast.
 */
import * as Y from 'yjs'
import { ROOM_MAP } from '../../src/shared/layout.js'
import type { AnyValue } from '../../src/shared/protocol/extension.js'
import type { Connection } from '../../server/transport/connection.js'
import { Refusal, type RequestContext, type YroomPlugin, type RoomHandle } from '../../server/plugin.js'
import { decodeRequestUpdate } from '../../server/room/nesting.js'
import { DATASTORE_ENSURE, SKELETON_ROOT } from '../../src/shared/protocol/skeleton.js'
import { ownedByAnother } from './ownership.js'

function parseParams(params: AnyValue): { root: string; value: Uint8Array } {
  const p = params as Record<string, AnyValue> | null
  if (typeof p !== 'object' || p === null || typeof p.root !== 'string' || !(p.value instanceof Uint8Array)) {
    throw new Refusal('invalid-params', 'expected { root: string, value: Uint8Array }')
  }
  if (p.root === ROOM_MAP || p.root.length === 0) throw new Refusal('server-only', `cannot create a skeleton in '${p.root}'`)
  return { root: p.root, value: p.value }
}

/** Creates in `target` the shared types of `want` that are missing; returns how many. */
function merge(room: RoomHandle, conn: Connection, target: Y.Map<unknown>, want: Y.Map<unknown>): number {
  if (ownedByAnother(room, conn, target)) return 0
  let created = 0
  for (const [key, value] of want.entries()) {
    if (!(value instanceof Y.AbstractType)) continue
    const have = target.get(key)
    if (have === undefined) {
      target.set(key, value.clone())
      created++
    } else if (have instanceof Y.Map && value instanceof Y.Map) {
      created += merge(room, conn, have as Y.Map<unknown>, value as Y.Map<unknown>)
    }
  }
  return created
}

async function ensure({ room, connection }: RequestContext, params: AnyValue): Promise<number> {
  const { root, value } = parseParams(params)
  if (connection.readOnly) return 0 // a viewer reads missing parts as defaults
  const scratch = decodeRequestUpdate(value, room.doc.getMap(root), room.limits.maxNestingDepth)
  const want = scratch.getMap<unknown>(SKELETON_ROOT)
  const created = room.transactAsServer((doc) => merge(room, connection, doc.getMap(root), want))
  scratch.destroy()
  if (created > 0) await room.flush()
  return created
}

export function datastoreSkeletonPlugin(): YroomPlugin {
  return { name: 'datastore-skeleton', requests: { [DATASTORE_ENSURE]: ensure } }
}
