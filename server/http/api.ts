/**
 * The HTTP API under /api/v1 (issue 26): key-protected, JSON errors with status codes.
 * Routes are in routes.ts; this file authenticates, matches and answers.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { roomNameError } from '../../src/shared/layout.js'
import { bearerMatches } from './auth.js'
import { readBody } from './body.js'
import type { ApiContext, ApiRequest } from './context.js'
import { ApiError, sendError, sendResult } from './errors.js'
import { forward, forwardTarget } from './forward.js'
import { RoomElsewhere } from './room-access.js'
import { API_PREFIX, matchPath, ROUTES, type Route } from './routes.js'

/** True for the paths the API answers (`/api` and everything under it). */
export function isApiPath(pathname: string): boolean {
  return pathname === '/api' || pathname.startsWith('/api/')
}

function decodeParams(raw: Record<string, string>): Record<string, string> {
  const params: Record<string, string> = {}
  for (const [k, v] of Object.entries(raw)) {
    try {
      params[k] = decodeURIComponent(v)
    } catch {
      throw new ApiError(400, 'bad-request', `path parameter ${k} is not valid URL encoding`)
    }
  }
  if (params.room !== undefined) {
    const err = roomNameError(params.room)
    if (err) throw new ApiError(400, 'invalid-room', err)
  }
  return params
}

/** The route for the request, or 404/405. */
function route(method: string, pathname: string): { route: Route; params: Record<string, string> } {
  if (!pathname.startsWith(`${API_PREFIX}/`)) throw new ApiError(404, 'not-found', `no such endpoint; the API is under ${API_PREFIX}/`)
  const segments = pathname.slice(API_PREFIX.length).split('/').slice(1)
  const allowed: string[] = []
  for (const r of ROUTES) {
    const params = matchPath(r.path, segments)
    if (!params) continue
    if (r.method === method) return { route: r, params: decodeParams(params) }
    allowed.push(r.method)
  }
  if (allowed.length > 0) throw new ApiError(405, 'method-not-allowed', `${method} is not allowed here; use ${allowed.join(', ')}`, { allow: allowed.join(', ') })
  throw new ApiError(404, 'not-found', `no such endpoint: ${pathname}`)
}

/** Runs the route; in cluster mode, a write to a room another node holds is forwarded to it. */
async function answer(ctx: ApiContext, handler: Route['handler'], r: ApiRequest, res: ServerResponse): Promise<number> {
  try {
    return sendResult(res, await handler(ctx, r))
  } catch (err) {
    if (!(err instanceof RoomElsewhere)) throw err
    const target = await forwardTarget(ctx, r, err)
    if (target === null) throw err
    try {
      return await forward(target, r, res, err.holder)
    } catch (e) {
      throw new ApiError(502, 'forward-failed', `${err.message}; forwarding there failed: ${(e as Error).message}`)
    }
  }
}

export async function handleApi(ctx: ApiContext, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  let label = 'unmatched'
  let status: number
  try {
    if (ctx.apiKey === undefined) throw new ApiError(404, 'api-disabled', 'the HTTP API is off: start the server with --api-key (apiKey)')
    if (!bearerMatches(req, ctx.apiKey)) throw new ApiError(401, 'unauthorized', 'send the API key as Authorization: Bearer KEY', { 'www-authenticate': 'Bearer' })
    const found = route(req.method ?? 'GET', url.pathname)
    label = `${found.route.method} ${found.route.path}`
    const body = found.route.method === 'GET' ? Buffer.alloc(0) : await readBody(req, ctx.maxBodyBytes)
    status = await answer(ctx, found.route.handler, { req, url, params: found.params, body }, res)
  } catch (err) {
    if (!(err instanceof ApiError)) ctx.logger.error({ err, method: req.method, path: url.pathname }, 'HTTP API request failed')
    status = sendError(res, err instanceof ApiError ? err : new ApiError(500, 'internal', 'internal error; see the server log'))
  }
  ctx.metrics.apiRequests.inc({ route: label, status: String(status) })
}
