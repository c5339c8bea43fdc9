/**
 * A colour per Yjs client id: the whiteboard draws a client's cursor in it and the room
 * inspector its owner badges, so the same client has the same colour in both.
 */

/** The colours clients get (Tailwind 500s: distinct on white and on dark backgrounds). */
export const CLIENT_PALETTE: readonly string[] = ['#ef4444', '#f97316', '#eab308', '#22c55e', '#14b8a6', '#3b82f6', '#8b5cf6', '#ec4899']

/** The server's colour (models it owns, `ownerID` 0). */
export const SERVER_COLOR = '#64748b'

/** The colour of client `clientID`: the same on every page and every node. */
export function clientColor(clientID: number): string {
  if (clientID === 0) return SERVER_COLOR
  // Client ids are random 32-bit numbers; mix them so neighbouring ids spread over the palette.
  let h = Math.imul(clientID ^ (clientID >>> 16), 0x45d9f3b)
  h = Math.imul(h ^ (h >>> 16), 0x45d9f3b)
  h ^= h >>> 16
  return CLIENT_PALETTE[(h >>> 0) % CLIENT_PALETTE.length]
}
