/**
 * `--static DIR` (server/transport/static-files.ts, sirv): ETag and 304, no-cache, the
 * precompressed siblings the example builds write, folder redirects, and nothing outside DIR.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from 'node:http'
import { brotliDecompressSync, gunzipSync } from 'node:zlib'
import { startServer, type TestServer } from '../helpers.js'
import { precompress } from '../../examples/precompress.js'

/** A raw GET (fetch would decompress and normalise the path). */
function get(port: number, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }))
    })
    req.on('error', reject)
    req.end()
  })
}

describe('static files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'yroom-static-'))
  const js = `console.log(${JSON.stringify('x'.repeat(2000))})\n`
  let s: TestServer

  beforeAll(async () => {
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>board</title>')
    writeFileSync(join(dir, 'main.js'), js)
    mkdirSync(join(dir, 'editor'))
    writeFileSync(join(dir, 'editor', 'index.html'), '<!doctype html><title>editor</title>')
    await precompress(dir)
    s = await startServer({ staticDir: dir })
  })
  afterAll(async () => {
    await s.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('serves a file with its type, an ETag and no-cache; If-None-Match gets 304 with no body', async () => {
    const r = await get(s.port, '/main.js')
    expect(r.status).toBe(200)
    expect(r.headers['content-type']).toMatch(/javascript/)
    expect(r.headers['cache-control']).toBe('no-cache')
    expect(r.body.toString()).toBe(js)
    const etag = r.headers.etag as string
    expect(etag).toMatch(/\S/)
    const again = await get(s.port, '/main.js', { 'if-none-match': etag })
    expect(again.status).toBe(304)
    expect(again.body.length).toBe(0)
  })

  it('sends the brotli or gzip sibling to a client that accepts it, with Vary', async () => {
    const br = await get(s.port, '/main.js', { 'accept-encoding': 'gzip, br' })
    expect(br.headers['content-encoding']).toBe('br')
    expect(br.headers.vary).toMatch(/Accept-Encoding/i)
    expect(brotliDecompressSync(br.body).toString()).toBe(js)
    expect(br.body.length).toBeLessThan(js.length / 10)
    const gz = await get(s.port, '/main.js', { 'accept-encoding': 'gzip' })
    expect(gz.headers['content-encoding']).toBe('gzip')
    expect(gunzipSync(gz.body).toString()).toBe(js)
  })

  it('/ and /editor/ serve their index.html; /editor redirects to /editor/, never to another site', async () => {
    expect((await get(s.port, '/')).body.toString()).toMatch(/board/)
    expect((await get(s.port, '/editor/')).body.toString()).toMatch(/editor/)
    const r = await get(s.port, '/editor')
    expect(r.status).toBe(301)
    expect(r.headers.location).toBe('/editor/')
    // A request path starting with two slashes: the redirect still stays on this site.
    const slashes = await get(s.port, '//evil.example/editor')
    expect(slashes.headers.location).toBe('/editor/')
  })

  it('HEAD has the headers and no body', async () => {
    const r = await get(s.port, '/main.js', {}, 'HEAD')
    expect(r.status).toBe(200)
    expect(Number(r.headers['content-length'])).toBe(js.length)
    expect(r.body.length).toBe(0)
  })

  it('nothing outside the folder, and a malformed path is a 404, not a failure', async () => {
    writeFileSync(join(dir, '..', 'yroom-static-secret.txt'), 'secret')
    try {
      for (const path of ['/../yroom-static-secret.txt', '/%2e%2e/yroom-static-secret.txt', '/..%2fyroom-static-secret.txt', '/%E0%A4%A', '/nope.js']) {
        const r = await get(s.port, path)
        expect(r.status, path).toBe(404)
        expect(r.body.toString()).not.toMatch(/secret/)
      }
      expect((await get(s.port, '/healthz')).status).toBe(200)
    } finally {
      rmSync(join(dir, '..', 'yroom-static-secret.txt'), { force: true })
    }
  })

  it('dotfiles and dot-folders are not served (.env, .git/config), however the path is spelled', async () => {
    writeFileSync(join(dir, '.env'), 'DOTENV_SECRET')
    mkdirSync(join(dir, '.git'), { recursive: true })
    writeFileSync(join(dir, '.git', 'config'), 'GIT_SECRET')
    try {
      for (const path of ['/.env', '/.git/config', '/%2eenv', '/%2egit/config', '/editor/../.env', '/.git/']) {
        const r = await get(s.port, path)
        expect(r.status, path).toBe(404)
        expect(r.body.toString()).not.toMatch(/SECRET/)
      }
    } finally {
      rmSync(join(dir, '.env'), { force: true })
      rmSync(join(dir, '.git'), { recursive: true, force: true })
    }
  })

  it('a symlink leading out of the folder is not followed', async () => {
    const outside = mkdtempSync(join(tmpdir(), 'yroom-static-outside-'))
    writeFileSync(join(outside, 'secret.txt'), 'OUTSIDE_SECRET')
    symlinkSync(join(outside, 'secret.txt'), join(dir, 'link.txt'))
    symlinkSync(outside, join(dir, 'linked-dir'))
    try {
      for (const path of ['/link.txt', '/linked-dir/secret.txt']) {
        const r = await get(s.port, path)
        expect(r.status, path).toBe(404)
        expect(r.body.toString()).not.toMatch(/SECRET/)
      }
    } finally {
      rmSync(join(dir, 'link.txt'), { force: true })
      rmSync(join(dir, 'linked-dir'), { force: true })
      rmSync(outside, { recursive: true, force: true })
    }
  })

  it('a Range it cannot serve exactly gets the whole file, never a hang or the wrong bytes', async () => {
    // start > end made sirv throw after writing its headers: the response never ended.
    for (const range of ['bytes=5-2', 'bytes=-5', 'bytes=0-0', 'bytes=0-1,4-5', 'bytes=x-y']) {
      const r = await get(s.port, '/main.js', { range })
      expect(r.status, range).toBe(200)
      expect(r.body.toString(), range).toBe(js)
    }
    const part = await get(s.port, '/main.js', { range: 'bytes=2-5' })
    expect(part.status).toBe(206)
    expect(part.body.toString()).toBe(js.slice(2, 6))
    expect((await get(s.port, '/healthz')).status).toBe(200)
  })

  it('a file rebuilt while the server runs is served as rebuilt, with a new ETag', async () => {
    const before = await get(s.port, '/index.html')
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>board, rebuilt</title>')
    rmSync(join(dir, 'index.html.br'))
    rmSync(join(dir, 'index.html.gz'))
    const after = await get(s.port, '/index.html')
    expect(after.body.toString()).toMatch(/rebuilt/)
    expect(after.headers.etag).not.toBe(before.headers.etag)
  })
})
