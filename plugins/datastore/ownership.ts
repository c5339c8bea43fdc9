/**
 * Rule 1 (SPEC §4) for changes the server applies on a client's behalf (the datastore's
 * requests): a model, or a model above it, owned by someone else may not be changed.
 */
import type * as Y from 'yjs'
import { UNOWNED } from '../../src/shared/layout.js'
import { modelOf, ownerOf, parentModelOf } from '../../src/shared/model-tree.js'
import type { RoomHandle } from '../../server/plugin.js'
import type { Connection } from '../../server/transport/connection.js'

/** True when `clientID` is the connection's own (the authority plugin's bindings when loaded). */
export function isOwn(room: RoomHandle, conn: Connection, clientID: number): boolean {
  const identity = room.services.identity
  return identity !== undefined ? identity.isOwnConnection(clientID, conn) : clientID === conn.announcedClientID
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function ownedByAnother(room: RoomHandle, conn: Connection, type: Y.AbstractType<any>): boolean {
  for (let m = modelOf(type); m !== null; m = parentModelOf(m)) {
    const owner = ownerOf(m)
    if (owner !== UNOWNED && !isOwn(room, conn, owner)) return true
  }
  return false
}
