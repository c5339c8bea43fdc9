/**
 * Who may open the inspector: everyone with the dev flag (`yroom serve --inspect`, what
 * `npm start` passes), else whoever presents the API key, as `Authorization: Bearer KEY`
 * or `?key=KEY` (an EventSource cannot send headers). Without either it does not exist: 404.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage } from 'node:http'

export interface AccessOptions {
  /** Open to everyone (development). */
  open?: boolean
  /** The server's API key: requests presenting it may inspect. */
  apiKey?: string
}

/** 200: allowed; 401: a key is needed and this request has not the right one; 404: the inspector is off. */
export function accessStatus(options: AccessOptions, req: IncomingMessage, url: URL): 200 | 401 | 404 {
  if (options.open) return 200
  if (!options.apiKey) return 404
  const header = req.headers.authorization
  // The scheme is case-insensitive, as the HTTP API reads it (server/http/auth.ts).
  const bearer = typeof header === 'string' ? /^Bearer\s+(.+)$/i.exec(header.trim()) : null
  const given = bearer ? bearer[1] : url.searchParams.get('key')
  return given !== null && sameSecret(given, options.apiKey) ? 200 : 401
}

const digest = (s: string) => createHash('sha256').update(s).digest()

/** Constant time, the length included (both sides hashed to one length first). */
function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b))
}
