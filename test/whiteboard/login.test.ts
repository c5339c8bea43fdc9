/**
 * The whiteboard with `--jwt-secret` (issue 26): the page logs in through the app's demo
 * login (examples/whiteboard/login.ts), connects with the token, and keeps its connection
 * when the token expires, by answering the server's refresh request with a fresh one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { buildBundle, launchBrowser, openBoard, SKIP_BROWSER, startWhiteboardServer, tempDir, type Browser, type WhiteboardServer } from './harness.js'
import { until } from '../helpers.js'
import { CloseCode } from '../../src/shared/protocol/close-codes.js'

describe.skipIf(SKIP_BROWSER)('whiteboard JWT login', () => {
  let browser: Browser
  let srv: WhiteboardServer
  let bundle: Awaited<ReturnType<typeof buildBundle>> | undefined
  const data = tempDir('yroom-wb-login-')

  beforeAll(async () => {
    bundle = await buildBundle()
    // Tokens of 2 s: the page must refresh its token within the test.
    srv = await startWhiteboardServer(data.path, bundle.dir, { jwtSecret: 'whiteboard-test-secret', loginTtlSeconds: 2 })
    browser = await launchBrowser()
  })

  afterAll(async () => {
    await browser?.close()
    await srv?.close()
    data.remove()
    bundle?.remove()
  })

  const connectionsOf = (principal: string) => [...srv.server.connections].filter((c) => c.principal.id === principal)

  it('logs in, connects as its name and outlives its token by refreshing it on the same connection', async () => {
    const logins: string[] = []
    browser.context.on('request', (r) => {
      if (new URL(r.url()).pathname === '/login') logins.push(r.url())
    })
    const page = await openBoard(browser.context, srv.http, 'login', 'Alice')
    await until(() => connectionsOf('user:Alice').length === 1, { message: "Alice's connection" })
    const conn = connectionsOf('user:Alice')[0]
    expect(conn.principal.anonymous).toBe(false)
    // The first token expires after 2 s; the server asks for a new one and the page logs in again.
    await until(() => logins.length >= 2, { timeout: 15_000, message: 'a second login (token refresh)' })
    await until(() => (conn.principal.expiresAt ?? 0) > Date.now(), { message: 'the refreshed expiry' })
    expect(connectionsOf('user:Alice')).toEqual([conn])
    expect(conn.closed).toBe(false)
    await page.close()
  })

  it('refuses a stock client without a token, and the login refuses a bad name', async () => {
    const url = srv.http.replace('http', 'ws')
    const code = await new Promise<number>((resolve) => new WebSocket(`${url}/login-room`).on('close', (c) => resolve(c)))
    expect(code).toBe(CloseCode.UNAUTHORIZED)
    const res = await fetch(`${srv.http}/login?name=${encodeURIComponent('<script>')}`)
    expect(res.status).toBe(400)
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('invalid-name')
  })
})
