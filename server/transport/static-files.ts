/**
 * Static files (`--static DIR`: the example apps) served by `sirv`: ETag and 304 on
 * revalidation, `Cache-Control: no-cache` (the bundles' names carry no content hash, so a
 * browser revalidates rather than keeps a stale copy), and precompressed `.br` / `.gz`
 * siblings when the client accepts them (the example builds write them: examples/precompress.ts).
 * Files are looked up per request, so a rebuild while the server runs is served at once.
 */
import { statSync } from 'node:fs'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { join, normalize, sep } from 'node:path'
import sirv from 'sirv'

export type StaticHandler = (req: IncomingMessage, res: ServerResponse, pathname: string) => Promise<boolean>

export function staticFiles(dir: string): StaticHandler {
  const root = normalize(dir)
  const serve = sirv(root, { dev: true, etag: true, gzip: true, brotli: true, extensions: ['html'] })
  return (req, res, pathname) => {
    if (redirectToFolder(root, pathname, res)) return Promise.resolve(true)
    // sirv decides synchronously (its lookups are sync): it answers, or calls next.
    let passed = false
    serve(req, res, () => {
      passed = true
    })
    return Promise.resolve(!passed)
  }
}

/**
 * `/editor` → `/editor/`: each example app lives in its own folder, and its page's relative
 * URLs (main.js, style.css) must resolve inside it. One leading slash only: `//host/` would
 * send the browser to another site.
 */
function redirectToFolder(root: string, pathname: string, res: ServerResponse): boolean {
  if (pathname.endsWith('/')) return false
  let rel: string
  try {
    rel = decodeURIComponent(pathname)
  } catch {
    return false
  }
  const folder = normalize(join(root, rel))
  if (!folder.startsWith(root + sep)) return false
  try {
    if (!statSync(folder).isDirectory() || !statSync(join(folder, 'index.html')).isFile()) return false
  } catch {
    return false
  }
  res.writeHead(301, { location: `/${pathname.replace(/^\/+/, '')}/` }).end()
  return true
}
