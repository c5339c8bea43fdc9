/**
 * Document layout constants shared by the server, plugins and the SDK (SPEC §2).
 * A model is any Y.Map; its meta-model lives under the reserved key `$meta`.
 */

/** Reserved key of a model's meta-model. */
export const META_KEY = '$meta'
/** Reserved top-level map written only by server-side code (§2, rule 7). */
export const ROOM_MAP = '$room'
/** Key under which a RealtimeArray keeps its Y.Array of models. */
export const ARRAY_ITEMS_KEY = 'items'

/** Fields of a meta-model. */
export const OWNER_ID = 'ownerID'
export const PREVENT_OWNERSHIP_TAKEOVER = 'preventOwnershipTakeover'
export const DESTROY_WHEN_OWNER_LEAVES = 'destroyWhenOwnerOrLastClientLeaves'
export const COLLECTION = 'collection'

/** ownerID of an unowned model. */
export const UNOWNED = -1
/** ownerID of a model owned by the server. */
export const SERVER_OWNER = 0

export type CollectionKind = 'set' | 'array' | 'dictionary' | 'stringKeyDictionary'
export const COLLECTION_KINDS: readonly CollectionKind[] = ['set', 'array', 'dictionary', 'stringKeyDictionary']

/** Room names: at most this many characters (§7). */
export const MAX_ROOM_NAME_LENGTH = 512

/** Returns an error text when `name` is not a valid room name, else null. */
export function roomNameError(name: string): string | null {
  if (name.length === 0) return 'room name is empty'
  if (name.length > MAX_ROOM_NAME_LENGTH) return `room name longer than ${MAX_ROOM_NAME_LENGTH} characters`
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(name)) return 'room name contains control characters'
  return null
}
