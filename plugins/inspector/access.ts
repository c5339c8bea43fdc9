/**
 * Who may open the inspector: everyone with the dev flag (`yroom serve --inspect`, what
 * `npm start` passes), else whoever presents the API key, as `Authorization: Bearer KEY`
 * or `?key=KEY` (an EventSource cannot send headers). Without either it does not exist: 404.
 */
import { timingSafeEqual } from 'node:crypto'
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
  const given = header?.startsWith('Bearer ') ? header.slice(7).trim() : url.searchParams.get('key')
  return given !== null && sameSecret(given, options.apiKey) ? 200 : 401
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}
