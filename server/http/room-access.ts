/**
 * Room lookups shared by the routes: whether a room exists, and taking a room for a write
 * in cluster mode (where only the room's authority writes it).
 */
import type { Room } from '../room/room.js'
import { RoomLeased } from '../storage/storage.js'
import { StorageDamaged } from '../storage/integrity.js'
import type { ApiContext } from './context.js'
import { ApiError } from './errors.js'

/** True when the room is loaded or has anything stored. */
export async function roomExists(ctx: ApiContext, name: string): Promise<boolean> {
  return ctx.rooms.get(name) !== undefined || (await ctx.storage.size(name)) > 0
}

export async function requireRoom(ctx: ApiContext, name: string): Promise<void> {
  if (!(await roomExists(ctx, name))) throw new ApiError(404, 'room-not-found', `no room ${JSON.stringify(name)}`)
}

/**
 * Cluster mode: the room loaded on this node, which becomes its authority if no other node
 * is; 409 when another node holds it. Elsewhere: undefined (writes go through `rooms.edit`,
 * loaded or not).
 */
export async function authorityFor(ctx: ApiContext, name: string): Promise<Room | undefined> {
  if (!ctx.cluster) return undefined
  try {
    return await ctx.rooms.open(name)
  } catch (err) {
    throw translate(err)
  }
}

/** 409: another server holds the room. Cluster mode forwards the request to it (api.ts). */
export class RoomElsewhere extends ApiError {
  constructor(
    room: string,
    readonly holder: string,
  ) {
    super(409, 'room-elsewhere', `room ${JSON.stringify(room)} is served by node ${holder}; send this request to that node (GET /cluster lists a node's rooms)`)
  }
}

/** Room errors as API errors: 409 for a room another server holds, 500 for damaged storage. */
export function translate(err: unknown): unknown {
  if (err instanceof RoomLeased) return new RoomElsewhere(err.room, err.holder)
  if (err instanceof StorageDamaged) return new ApiError(500, 'storage-damaged', err.closeReason)
  return err
}
