/**
 * The SDK's offline persistence in Chromium: edits made while the server is down are kept in
 * IndexedDB, survive closing the page, and reach the server after a reload.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { copyFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import type { Page } from 'playwright-core'
import { until } from '../helpers.js'
import { launchBrowser, relay, SKIP_BROWSER, startWhiteboardServer, tempDir, type Browser, type WhiteboardServer } from './harness.js'

const here = fileURLToPath(new URL('./offline-page/', import.meta.url))

interface OfflineHooks {
  room: { status: string; synced: boolean; destroy(): void }
  notes: { set(k: string, v: string): void; toJSON(): Record<string, string> }
  storedNotes(): Promise<Record<string, string>>
}
declare const window: { __offline: OfflineHooks }

describe.skipIf(SKIP_BROWSER)('SDK offline persistence in Chromium', { timeout: 60_000 }, () => {
  const dist = tempDir('yroom-offline-dist-')
  const data = tempDir('yroom-offline-data-')
  let browser: Browser
  let srv: WhiteboardServer

  beforeAll(async () => {
    await build({
      entryPoints: [join(here, 'main.ts')],
      outfile: join(dist.path, 'main.js'),
      bundle: true,
      format: 'esm',
      platform: 'browser',
      external: ['ws'],
      logLevel: 'warning',
    })
    copyFileSync(join(here, 'index.html'), join(dist.path, 'index.html'))
    browser = await launchBrowser()
    srv = await startWhiteboardServer(data.path, dist.path)
  })

  afterAll(async () => {
    await browser?.close()
    await srv?.close().catch(() => undefined)
    dist.remove()
    data.remove()
  })

  async function open(http: string, ws: string): Promise<Page> {
    const page = await browser.context.newPage()
    page.setDefaultTimeout(20_000)
    page.on('console', (m) => process.env.YROOM_DEBUG && console.log('[page]', m.text()))
    page.on('pageerror', (err) => console.error('[page error]', err))
    await page.goto(`${http}/?room=notes&ws=${encodeURIComponent(ws)}`)
    await page.waitForFunction(() => window.__offline?.room.synced === true)
    return page
  }

  it('offline edits are stored locally, survive closing the page, and sync after a reload', async () => {
    // IndexedDB belongs to the page's origin: a relay keeps one address across the restart.
    const front = await relay()
    const portOf = (s: WhiteboardServer) => Number(new URL(s.http).port)
    front.target = portOf(srv)
    const ws = front.http.replace('http', 'ws')
    const first = await open(front.http, ws)
    await first.evaluate(() => window.__offline.notes.set('a', 'online'))
    await expectServer(srv, 'a', 'online')

    await srv.close()
    await first.waitForFunction(() => window.__offline.room.status !== 'connected')
    await first.evaluate(() => window.__offline.notes.set('b', 'written offline'))
    // The write reached IndexedDB: a fresh load of the database holds it.
    await first.waitForFunction(async () => (await window.__offline.storedNotes()).b === 'written offline')
    await first.close()

    srv = await startWhiteboardServer(data.path, dist.path)
    front.target = portOf(srv)
    expect(srv.server.rooms.get('notes')).toBeUndefined()
    const second = await open(front.http, ws)
    expect(await second.evaluate(() => window.__offline.notes.toJSON())).toEqual({ a: 'online', b: 'written offline' })
    await expectServer(srv, 'b', 'written offline')
    await second.close()
    await front.close()
  })
})

function expectServer(srv: WhiteboardServer, key: string, value: string): Promise<void> {
  return until(() => srv.server.rooms.get('notes')?.doc.getMap('notes').get(key) === value, {
    timeout: 10_000,
    message: `the server to get notes.${key} = ${value}`,
  })
}
