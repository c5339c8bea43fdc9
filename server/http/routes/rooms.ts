/** GET /rooms, GET /rooms/{room}, DELETE /rooms/{room}. */
import { CloseCode } from '../../../src/shared/protocol/close-codes.js'
import type { Connection } from '../../transport/connection.js'
import { docToJson } from '../doc-json.js'
import type { ApiContext, Handler } from '../context.js'
import { ApiError } from '../errors.js'
import { authorityFor, requireRoom, translate } from '../room-access.js'

/** Loaded rooms and stored ones, each once, by name. */
export const listRooms: Handler = async (ctx) => {
  const stored = new Set(await ctx.storage.list())
  const names = [...new Set([...stored, ...ctx.rooms.all.keys()])].sort()
  const rooms = names.map((name) => {
    const room = ctx.rooms.get(name)
    return { name, loaded: room !== undefined, stored: stored.has(name), clients: room?.connections.size ?? 0 }
  })
  return { json: { rooms } }
}

/** The room as JSON, loaded or not (not loaded: as stored). */
export const readRoom: Handler = async (ctx, { params }) => {
  const name = params.room
  await requireRoom(ctx, name)
  const doc = await ctx.rooms.read(name, docToJson).catch((err: unknown) => {
    throw translate(err)
  })
  const room = ctx.rooms.get(name)
  return { json: { name, loaded: room !== undefined, clients: room?.connections.size ?? 0, doc } }
}

/** Time a deleted room's clients get to close before they are cut off. */
const CLOSE_WAIT_MS = 1000

/**
 * Closes the room's connections (4404, which the SDK does not retry), unloads it and deletes
 * it from storage. Its clients' plugins' onDisconnect and onUnload hooks run as usual first.
 */
export const deleteRoom: Handler = async (ctx, { params }) => {
  const name = params.room
  await requireRoom(ctx, name)
  await authorityFor(ctx, name)
  const closed = await closeConnections(ctx, name)
  try {
    await ctx.rooms.unload(name)
    if (ctx.rooms.get(name)) throw new ApiError(409, 'room-busy', `room ${JSON.stringify(name)} got a new client while it was being deleted; try again`)
    await ctx.storage.delete(name)
  } catch (err) {
    throw translate(err)
  }
  ctx.logger.info({ room: name, closed }, 'room deleted over the HTTP API')
  return { json: { deleted: name, closed } }
}

/** Closes every connection of the room (this node's, and other nodes' clients it serves); resolves once they are detached. */
async function closeConnections(ctx: ApiContext, name: string): Promise<number> {
  const conns = new Set<Connection>(ctx.rooms.get(name)?.connections ?? [])
  for (const c of ctx.connections) if (c.room === name) conns.add(c)
  for (const c of conns) c.close(CloseCode.ROOM_DELETED, 'room deleted')
  const deadline = Date.now() + CLOSE_WAIT_MS
  // Detaching (onDisconnect hooks) follows each socket's close event.
  while ((ctx.rooms.get(name)?.connections.size ?? 0) > 0) {
    if (Date.now() > deadline) {
      for (const c of ctx.rooms.get(name)?.connections ?? []) c.terminate()
      if (Date.now() > deadline + CLOSE_WAIT_MS) break
    }
    await new Promise((r) => setTimeout(r, 5))
  }
  // Let the idle unload scheduled by the last detach see an empty room.
  await new Promise((r) => setImmediate(r))
  return conns.size
}
