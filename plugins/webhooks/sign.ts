/**
 * Webhook signatures: HMAC-SHA256 over `<timestamp>.<raw body>`, so a captured request cannot
 * be replayed later with a fresh timestamp. Receivers check both (see docs/server.md#webhooks).
 */
import { createHmac, timingSafeEqual } from 'node:crypto'

export const SIGNATURE_HEADER = 'x-yroom-signature'
export const TIMESTAMP_HEADER = 'x-yroom-timestamp'
export const EVENT_HEADER = 'x-yroom-event'

/** `sha256=<hex>` for a body sent at `timestamp` (Unix seconds). */
export function signature(secret: string, timestamp: number, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`
}

/**
 * The receiver's check: the signature matches and the timestamp is within `toleranceS`
 * of now. What the docs' snippet does, exported for Node receivers and the tests.
 */
export function verifySignature(secret: string, header: { signature?: string | null; timestamp?: string | null }, body: string, toleranceS = 300, now = Date.now()): boolean {
  const ts = Number(header.timestamp)
  if (!header.signature || !Number.isInteger(ts) || Math.abs(now / 1000 - ts) > toleranceS) return false
  const expected = Buffer.from(signature(secret, ts, body))
  const given = Buffer.from(header.signature)
  return given.length === expected.length && timingSafeEqual(given, expected)
}
