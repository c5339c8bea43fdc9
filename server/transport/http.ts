/** Plain HTTP routes: health, metrics, cluster, the API and plugin routes, and static files. */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Metrics } from '../metrics.js'
import type { Leases } from '../storage/storage.js'
import { isApiPath } from '../http/api.js'
import type { StaticHandler } from './static-files.js'

export interface HttpContext {
  metrics: Metrics
  /** `--static DIR` (static-files.ts). */
  staticFiles?: StaticHandler
  isServing(): boolean
  /** The leases held, on shared storage (GET /cluster); undefined: embedded storage. */
  leases?: () => Leases
  /** Cluster mode: the rooms this node relays and the clients it serves for other nodes. */
  cluster?: () => { node: string; relayed: Array<{ name: string; clients: number }>; remoteClients: number }
  /** The HTTP API (server/http/api.ts): answers every path under /api. */
  api?: (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void>
  /** Plugins' own routes (YroomPlugin.http), asked before static files: true when one answered. */
  routes?: (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>
}

export async function handleHttp(ctx: HttpContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost')
  if (ctx.api && isApiPath(url.pathname)) return ctx.api(req, res, url)
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD' }).end()
    return
  }
  if (url.pathname === '/healthz') {
    const ok = ctx.isServing()
    res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ status: ok ? 'ok' : 'stopping' }))
    return
  }
  if (url.pathname === '/cluster') {
    const leases = ctx.leases?.()
    res
      .writeHead(leases ? 200 : 404, { 'content-type': 'application/json' })
      .end(JSON.stringify(leases ? { node: leases.holder, rooms: leases.rooms, cluster: ctx.cluster?.() ?? null } : { error: 'this server has no shared storage: no leases' }))
    return
  }
  if (url.pathname === '/metrics') {
    if (ctx.leases) {
      const leases = ctx.leases()
      ctx.metrics.leasesHeld.set(leases.rooms.length)
      ctx.metrics.leaseRenewals.set(leases.renewals)
    }
    res.writeHead(200, { 'content-type': ctx.metrics.registry.contentType }).end(await ctx.metrics.registry.metrics())
    return
  }
  if (ctx.routes && (await ctx.routes(req, res, url))) return
  if (ctx.staticFiles && (await ctx.staticFiles(req, res, url.pathname))) return
  res.writeHead(404, { 'content-type': 'text/plain' }).end('yroom: connect over WebSocket at ws://<host>/<room>\n')
}
