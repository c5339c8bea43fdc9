/**
 * The whiteboard's demo login, for a server started with `--jwt-secret`: `GET /login?name=N`
 * answers `{ token, expiresAt }`, a short-lived HS256 JWT whose subject is the name. The
 * page's token function calls it before every (re)connect and when the server asks for a
 * fresh token, so sessions outlive any one token (docs/server.md, "Token expiry").
 *
 * It is a demonstration of the token flow, not of authentication: there is no password,
 * anyone may log in as any name. A real app signs tokens in its own backend, after its own
 * login, with the same claims.
 */
import { SignJWT } from 'jose'
import type { YroomPlugin } from '../../server/plugin.js'

export const LOGIN_PATH = '/login'
/** Names are what the whiteboard shows beside cursors: short, printable. */
const NAME = /^[\p{L}\p{N} ._'-]{1,40}$/u

export interface LoginOptions {
  secret: string
  /** Lifetime of each token (default 10 minutes). */
  ttlSeconds?: number
}

function json(res: import('node:http').ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' })
  res.end(JSON.stringify(body))
}

export function whiteboardLogin({ secret, ttlSeconds = 600 }: LoginOptions): YroomPlugin {
  const key = new TextEncoder().encode(secret)
  return {
    name: 'whiteboard-login',
    async http({ url, response }) {
      if (url.pathname !== LOGIN_PATH) return false
      const name = (url.searchParams.get('name') ?? '').trim()
      if (!NAME.test(name)) {
        json(response, 400, { error: { code: 'invalid-name', message: 'name: 1 to 40 letters, digits, spaces or . _ \' -' } })
        return true
      }
      const expiresAt = Math.floor(Date.now() / 1000) + ttlSeconds
      const token = await new SignJWT({ name })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(`user:${name}`)
        .setIssuedAt()
        .setExpirationTime(expiresAt)
        .sign(key)
      json(response, 200, { token, expiresAt: expiresAt * 1000 })
      return true
    },
  }
}
