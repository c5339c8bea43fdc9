/** Plain HTTP routes: health, metrics, and the static example app. */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { extname, join, normalize, sep } from 'node:path'
import type { Metrics } from '../metrics.js'
import type { Leases } from '../storage/storage.js'
import { isApiPath } from '../http/api.js'

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.map': 'application/json',
}

export interface HttpContext {
  metrics: Metrics
  staticDir?: string
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
  if (ctx.staticDir && (await serveStatic(ctx.staticDir, url.pathname, res))) return
  res.writeHead(404, { 'content-type': 'text/plain' }).end('yroom: connect over WebSocket at ws://<host>/<room>\n')
}

/**
 * A file of `dir`; `/x/` serves `x/index.html`, so each example app lives in its own folder
 * (the whiteboard at `/`, the editor at `/editor/`).
 */
async function serveStatic(dir: string, pathname: string, res: ServerResponse): Promise<boolean> {
  let rel: string
  try {
    rel = decodeURIComponent(pathname.endsWith('/') ? `${pathname}index.html` : pathname)
  } catch {
    return false
  }
  const file = normalize(join(dir, rel))
  if (!file.startsWith(normalize(dir) + sep)) return false // path traversal
  try {
    const s = await stat(file)
    if (s.isDirectory() && (await stat(join(file, 'index.html'))).isFile()) {
      // `/editor` → `/editor/`: the page's relative URLs (main.js, style.css) resolve inside its
      // folder. One leading slash only: `//host/` would send the browser to another site.
      res.writeHead(301, { location: `/${pathname.replace(/^\/+/, '')}/` }).end()
      return true
    }
    if (!s.isFile()) return false
    res.writeHead(200, { 'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream', 'content-length': s.size })
    createReadStream(file).pipe(res)
    return true
  } catch {
    return false
  }
}
