/**
 * Cluster mode: a room-scoped write that reached a node which is not the room's authority is
 * forwarded to the node that is (its HTTP address is published with its heartbeat), and the
 * answer is passed back. Once only: a forwarded request is never forwarded again.
 */
import type { ServerResponse } from 'node:http'
import type { ApiContext, ApiRequest } from './context.js'
import type { RoomElsewhere } from './room-access.js'

export const FORWARDED_HEADER = 'x-yroom-forwarded'
export const SERVED_BY_HEADER = 'x-yroom-served-by'
/** Headers of the answer passed back to the caller. */
const PASSED_BACK = ['content-type', 'allow', 'www-authenticate', 'x-yroom-state-vector']

/** Whether `r` may be forwarded: cluster mode, the holder's address known, not forwarded already. */
export async function forwardTarget(ctx: ApiContext, r: ApiRequest, err: RoomElsewhere): Promise<string | null> {
  if (!ctx.nodeUrl || r.req.headers[FORWARDED_HEADER] !== undefined) return null
  return ctx.nodeUrl(err.holder)
}

/** Sends the request to `base` and writes its answer; returns the status. */
export async function forward(base: string, r: ApiRequest, res: ServerResponse, holder: string): Promise<number> {
  const headers: Record<string, string> = { [FORWARDED_HEADER]: '1' }
  for (const h of ['authorization', 'content-type']) {
    const v = r.req.headers[h]
    if (typeof v === 'string') headers[h] = v
  }
  const method = r.req.method ?? 'GET'
  const answer = await fetch(new URL(`${r.url.pathname}${r.url.search}`, base), {
    method,
    headers,
    body: method === 'GET' || method === 'HEAD' ? undefined : new Uint8Array(r.body),
    signal: AbortSignal.timeout(30_000),
  })
  const body = Buffer.from(await answer.arrayBuffer())
  const out: Record<string, string | number> = { [SERVED_BY_HEADER]: holder, 'content-length': body.byteLength, 'cache-control': 'no-store' }
  for (const h of PASSED_BACK) {
    const v = answer.headers.get(h)
    if (v !== null) out[h] = v
  }
  res.writeHead(answer.status, out).end(body)
  return answer.status
}
