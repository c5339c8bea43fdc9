/**
 * The client ids the server has written under in a room (SPEC §3), stored beside its log.
 * A room's server id is drawn anew at each load (and for each edit of an unloaded room), so
 * without this list an id the server wrote under earlier would look unclaimed after a
 * reload, and a client could write under it. Loaded rooms bind every one to the server.
 */
import type { Storage } from '../storage/storage.js'

const META_KEY = 'yroom-server-ids'

export async function loadServerIds(storage: Storage, room: string): Promise<number[]> {
  const raw = await storage.getMeta(room, META_KEY)
  if (!raw) return []
  const ids: unknown = JSON.parse(Buffer.from(raw).toString('utf8'))
  return Array.isArray(ids) ? ids.filter((id): id is number => Number.isInteger(id)) : []
}

/** Adds `id` to the room's list (read, then written: callers hold the room's queue or its flush chain). */
export async function storeServerId(storage: Storage, room: string, id: number): Promise<void> {
  const ids = await loadServerIds(storage, room)
  if (ids.includes(id)) return
  ids.push(id)
  await storage.setMeta(room, META_KEY, Buffer.from(JSON.stringify(ids)))
}
