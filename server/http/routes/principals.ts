/**
 * POST /principals/{principal}/kick and PUT /principals/{principal}/read-only: a principal's
 * connections. In cluster mode the node that answers passes the command on to every other
 * live node (once: forwarded requests are not passed on) and adds up their counts.
 */
import { jsonObject } from '../body.js'
import type { ApiContext, ApiRequest, Handler } from '../context.js'
import { ApiError } from '../errors.js'
import { FORWARDED_HEADER } from '../forward.js'

/** The counts `field` the other nodes answer with; a node that fails is logged and counted as 0. */
async function onPeers(ctx: ApiContext, r: ApiRequest, field: string): Promise<number> {
  if (!ctx.peerUrls || r.req.headers[FORWARDED_HEADER] !== undefined) return 0
  const peers = await ctx.peerUrls()
  const counts = await Promise.all(
    peers.map(async (base) => {
      try {
        const res = await fetch(new URL(r.url.pathname, base), {
          method: r.req.method,
          headers: { authorization: r.req.headers.authorization ?? '', 'content-type': 'application/json', [FORWARDED_HEADER]: '1' },
          body: new Uint8Array(r.body),
          signal: AbortSignal.timeout(10_000),
        })
        const n = ((await res.json()) as Record<string, unknown>)[field]
        return typeof n === 'number' ? n : 0
      } catch (err) {
        ctx.logger.warn({ err, node: base, path: r.url.pathname }, 'passing a principal command to another node failed')
        return 0
      }
    }),
  )
  return counts.reduce((a, b) => a + b, 0)
}

export const kickPrincipal: Handler = async (ctx, r) => {
  const { reason } = jsonObject(r.body)
  if (reason !== undefined && typeof reason !== 'string') throw new ApiError(400, 'bad-request', 'reason must be a string')
  const here = ctx.kick(r.params.principal, reason)
  return { json: { closed: here + (await onPeers(ctx, r, 'closed')) } }
}

export const setReadOnly: Handler = async (ctx, r) => {
  const { readOnly } = jsonObject(r.body)
  if (readOnly !== true && readOnly !== false && readOnly !== null) {
    throw new ApiError(400, 'bad-request', 'body must be { "readOnly": true | false | null } (null: back to what the token says)')
  }
  const here = ctx.setReadOnly(r.params.principal, readOnly)
  return { json: { changed: here + (await onPeers(ctx, r, 'changed')) } }
}
