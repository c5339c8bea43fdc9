/** `Authorization: Bearer KEY`, compared in constant time (both sides hashed to one length first). */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage } from 'node:http'

const digest = (s: string) => createHash('sha256').update(s).digest()

export function bearerMatches(req: IncomingMessage, key: string): boolean {
  const header = req.headers.authorization
  const m = typeof header === 'string' ? /^Bearer\s+(.+)$/i.exec(header.trim()) : null
  if (!m) return false
  return timingSafeEqual(digest(m[1]), digest(key))
}
