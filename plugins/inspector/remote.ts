/**
 * Cluster mode: a room another node serves is inspected live there. Only the node that
 * holds a room's lease sees its clients, rejections and actions, so this node passes that
 * node's event stream through to the page unchanged (the page shows which node serves it).
 * When that node cannot be reached, the caller falls back to this node's read path (the
 * room's stored state, room-watch.ts).
 */
import type { HttpRouteContext } from '../../server/plugin.js'

/** Set on a passed-through request: the node asked never passes it on again. */
export const FORWARDED_HEADER = 'x-yroom-inspect-forwarded'
const SERVED_BY_HEADER = 'x-yroom-served-by'
/** How long the node serving the room may take to start its stream. */
const CONNECT_TIMEOUT_MS = 5_000

/** The holder's stream URL when another node serves `name` and its address is known, else null. */
async function remoteSource(ctx: HttpRouteContext, name: string): Promise<{ url: URL; holder: string } | null> {
  if (!ctx.nodeUrl || !ctx.storage.holderOf || ctx.rooms.get(name) !== undefined) return null
  if (ctx.request.headers[FORWARDED_HEADER] !== undefined) return null
  const holder = await ctx.storage.holderOf(name).catch(() => null)
  if (holder === null || holder === ctx.node) return null
  const base = await ctx.nodeUrl(holder)
  if (base === null) return null
  return { url: new URL(`/inspect/events/room?name=${encodeURIComponent(name)}`, base), holder }
}

/** The caller's key, passed on as a header (never in a URL another node might log). */
function credentials(ctx: HttpRouteContext): Record<string, string> {
  const auth = ctx.request.headers.authorization
  if (typeof auth === 'string') return { authorization: auth }
  const key = ctx.url.searchParams.get('key')
  return key ? { authorization: `Bearer ${key}` } : {}
}

/**
 * Streams the room's events from the node that serves it; true when it answers the request
 * (until either side closes), false to serve it here instead.
 */
export async function passThroughRemote(ctx: HttpRouteContext, name: string): Promise<boolean> {
  const source = await remoteSource(ctx, name)
  if (source === null) return false
  const res = ctx.response
  const abort = new AbortController()
  // The page may leave while the other node is asked, and that node may not answer at all.
  const leave = () => abort.abort()
  res.once('close', leave)
  const timer = setTimeout(leave, CONNECT_TIMEOUT_MS)
  let answer: Response | null = null
  try {
    answer = await fetch(source.url, { headers: { ...credentials(ctx), [FORWARDED_HEADER]: '1' }, signal: abort.signal })
  } catch {
    answer = null
  } finally {
    clearTimeout(timer)
  }
  if (answer === null || !answer.ok || answer.body === null) {
    abort.abort()
    res.off('close', leave)
    // A page that left needs nothing more; else this node shows the stored state.
    return res.destroyed
  }
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
    [SERVED_BY_HEADER]: source.holder,
  })
  const body = answer.body as unknown as AsyncIterable<Uint8Array>
  void (async () => {
    try {
      for await (const chunk of body) {
        if (res.destroyed) break
        if (!res.write(chunk)) await new Promise((r) => (res.once('drain', r), res.once('close', r)))
      }
    } catch {
      // The page left (aborted) or the other node went away: the page reconnects and asks again.
    } finally {
      res.end()
    }
  })()
  return true
}
