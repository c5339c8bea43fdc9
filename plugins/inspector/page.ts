/**
 * The inspector page's files: built from examples/inspector/ (`npm run build:inspector`) into
 * examples/inspector/dist, or into a directory given to the plugin (the tests build their own).
 */
import { createReadStream, existsSync } from 'node:fs'
import { stat } from 'node:fs/promises'
import type { ServerResponse } from 'node:http'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const FILES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'main.js': 'text/javascript; charset=utf-8',
  'main.js.map': 'application/json',
  'style.css': 'text/css; charset=utf-8',
}

/** examples/inspector/dist, from this file run from source or from dist/. */
export function defaultPageDir(): string {
  const here = dirname(fileURLToPath(import.meta.url))
  const candidates = [join(here, '..', '..', 'examples', 'inspector', 'dist'), join(here, '..', '..', '..', 'examples', 'inspector', 'dist')]
  return candidates.find((d) => existsSync(join(d, 'index.html'))) ?? candidates[0]
}

/** Serves one of the page's files; false when `file` is not one of them. */
export async function servePageFile(dir: string, file: string, res: ServerResponse, head: boolean): Promise<boolean> {
  if (!Object.hasOwn(FILES, file)) return false
  const type = FILES[file]
  const path = join(dir, file)
  try {
    const s = await stat(path)
    // The page may hold a key in its address: no caching, no referrer.
    res.writeHead(200, { 'content-type': type, 'content-length': s.size, 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' })
    if (head) res.end()
    else createReadStream(path).pipe(res)
  } catch {
    res.writeHead(503, { 'content-type': 'text/plain' }).end('yroom inspector: the page is not built (npm run build:inspector)\n')
  }
  return true
}
