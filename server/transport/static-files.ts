/**
 * Static files (`--static DIR`: the example apps) served by `sirv`: ETag and 304 on
 * revalidation, `Cache-Control: no-cache` (the bundles' names carry no content hash, so a
 * browser revalidates rather than keeps a stale copy), and precompressed `.br` / `.gz`
 * siblings when the client accepts them (the example builds write them: examples/precompress.ts).
 * Files are looked up per request, so a rebuild while the server runs is served at once.
 * Not served (404): dotfiles and dot-folders (`.env`, `.git/`), and anything a symlink leads
 * to outside DIR. A Range header sirv would answer wrongly is ignored (the whole file).
 */
import { existsSync, realpathSync, statSync } from 'node:fs'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { join, normalize, sep } from 'node:path'
import sirv from 'sirv'

export type StaticHandler = (req: IncomingMessage, res: ServerResponse, pathname: string) => Promise<boolean>

export function staticFiles(dir: string): StaticHandler {
  const root = normalize(dir)
  const serve = sirv(root, { dev: true, etag: true, gzip: true, brotli: true, extensions: ['html'] })
  return (req, res, pathname) => {
    // sirv's dev mode (per-request lookups) has no dotfile filter and follows symlinks.
    if (!servable(root, req.url ?? '/')) return Promise.resolve(false)
    if (redirectToFolder(root, pathname, res)) return Promise.resolve(true)
    dropUnservableRange(req)
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

/** The names sirv may serve for a path: the file, with `.html`, and their `.br` / `.gz` siblings, or the folder's index. */
const SUFFIXES = ['', '.html', '.br', '.gz', '.html.br', '.html.gz']

/**
 * False for a path sirv would serve but must not: one naming a dotfile or dot-folder (but
 * `.well-known`), or one whose file is reached through a symlink leading out of `root`.
 * The path is read from the raw request URL, decoded as sirv decodes it.
 */
function servable(root: string, rawUrl: string): boolean {
  let path = rawUrl.split(/[?#]/, 1)[0]
  try {
    path = decodeURI(path)
  } catch {
    return true // sirv finds nothing either
  }
  if (path.split('/').some((s) => s.startsWith('.') && s !== '.' && s !== '..' && s !== '.well-known')) return false
  let realRoot: string
  try {
    realRoot = realpathSync(root)
  } catch {
    return true
  }
  const base = normalize(join(root, path))
  const names = SUFFIXES.flatMap((x) => [base + x, join(base, 'index') + x])
  for (const name of names) {
    if (!existsSync(name)) continue
    let real: string
    try {
      real = realpathSync(name)
    } catch {
      return false
    }
    if (real !== realRoot && !real.startsWith(realRoot + sep)) return false
  }
  return true
}

/**
 * sirv answers a single `bytes=START-END` range; anything else it gets wrong (`bytes=-N` as
 * the first N+1 bytes, `bytes=0-0` as the whole file) or fails on after sending its headers
 * (START > END: the response never ends). Those are ignored: the whole file, as RFC 9110 allows.
 */
function dropUnservableRange(req: IncomingMessage): void {
  const range = req.headers.range
  if (range === undefined) return
  const m = /^bytes=(\d+)-(\d*)$/.exec(range.trim())
  if (!m || (m[2] !== '' && (Number(m[2]) < Number(m[1]) || Number(m[2]) === 0))) delete req.headers.range
}
