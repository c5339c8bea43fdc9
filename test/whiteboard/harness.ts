/**
 * Browser test harness: Debian's Chromium (never a downloaded browser) driven by
 * playwright-core, and a real yroom server in-process serving the built whiteboard.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { createServer as createNetServer, connect as connectTcp, type AddressInfo, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type BrowserContext, type Page } from 'playwright-core'
import { createServer, type YroomServer } from '../../server/index.js'
import { defaultPlugins } from '../../plugins/index.js'
import { actionsPlugin } from '../../plugins/actions/index.js'
import { actionSets, migrations, plugins as appPlugins } from '../../examples/whiteboard/server-actions.js'
import { buildWhiteboard } from '../../examples/whiteboard/build.js'

export const CHROMIUM = '/usr/bin/chromium'
/** Skip only on a developer machine without Chromium; CI installs it (.ci/run) and must not skip. */
export const SKIP_BROWSER = !existsSync(CHROMIUM) && !process.env.CI

export const ARTIFACTS = join(process.cwd(), 'test-artifacts', 'whiteboard')

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
]

export interface Browser {
  context: BrowserContext
  close(): Promise<void>
}

/** A fresh Chromium with its own, temporary user-data-dir. */
export async function launchBrowser(): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'yroom-wb-profile-'))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1100, height: 700 },
  })
  return {
    context,
    async close() {
      await context.close()
      rmSync(profile, { recursive: true, force: true })
    },
  }
}

/**
 * Builds the app with the same build function `npm run build:whiteboard` uses, into a temp
 * directory: the tests always run the current source, never a stale examples/whiteboard/dist
 * (and never overwrite the one `npm start` may be serving). It takes well under a second.
 */
export async function buildBundle(): Promise<{ dir: string; remove(): void }> {
  const dir = tempDir('yroom-wb-dist-')
  await buildWhiteboard(dir.path)
  return { dir: dir.path, remove: dir.remove }
}

export interface WhiteboardServer {
  server: YroomServer
  http: string
  close(): Promise<void>
}

/** The real server with the CLI's default plugins, LevelDB storage in `dataDir`, serving the app. */
/** `jwtSecret`: as `yroom serve --jwt-secret` (tokens required; the app's demo login on, its tokens living `loginTtlSeconds`). */
export async function startWhiteboardServer(
  dataDir: string,
  staticDir: string,
  { jwtSecret, loginTtlSeconds }: { jwtSecret?: string; loginTtlSeconds?: number } = {},
): Promise<WhiteboardServer> {
  const server = await createServer({
    host: '127.0.0.1',
    port: 0,
    storage: dataDir,
    logger: 'silent',
    processMetrics: false,
    // What `yroom serve --actions …/server-actions.mjs` runs for the whiteboard: default
    // plugins, the vote counter's actions, and the module's own plugins (the demo login).
    plugins: [...defaultPlugins(), actionsPlugin({ sets: actionSets, migrations }), ...appPlugins({ jwtSecret, loginTtlSeconds })],
    staticDir,
    jwtSecret,
  })
  const bound = await server.listen()
  return { server, http: `http://127.0.0.1:${bound}`, close: () => server.close() }
}

/**
 * A TCP relay with a fixed port in front of a server that restarts on a new port: a page keeps
 * its URL across a restart without the test re-binding a freed port (which another test
 * process may have taken meanwhile). Its `offline` switch cuts the pages behind it off the network.
 */
export async function relay(): Promise<{ http: string; target: number; offline: boolean; close(): Promise<void> }> {
  const sockets = new Set<Socket>()
  const state = { target: 0, offline: false }
  const server = createNetServer((client) => {
    if (state.offline) {
      client.destroy()
      return
    }
    const upstream = connectTcp(state.target, '127.0.0.1')
    for (const s of [client, upstream]) {
      sockets.add(s)
      s.on('error', () => {
        client.destroy()
        upstream.destroy()
      })
      s.on('close', () => sockets.delete(s))
    }
    client.pipe(upstream).pipe(client)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    http: `http://127.0.0.1:${port}`,
    get target() {
      return state.target
    },
    set target(p: number) {
      state.target = p
    },
    get offline() {
      return state.offline
    },
    /**
     * A network cut for the pages behind the relay: true drops their open connections (as a
     * lost network resets them) and refuses new ones until set back to false. Chromium's
     * offline emulation would not do: it leaves open WebSockets running.
     */
    set offline(v: boolean) {
      state.offline = v
      if (v) for (const s of sockets) s.destroy()
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  }
}

export function tempDir(prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix))
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) }
}

/** Opens the whiteboard in `room` and waits until it is synced and has its presence model. */
export async function openBoard(context: BrowserContext, http: string, room: string, name: string): Promise<Page> {
  const page = await context.newPage()
  page.setDefaultTimeout(20_000) // a failed wait names its condition well within the test's timeout
  page.on('pageerror', (err) => console.error(`[${name}] page error:`, err))
  await page.goto(`${http}/?room=${encodeURIComponent(room)}&name=${encodeURIComponent(name)}`)
  await page.waitForFunction(() => (window as unknown as { __wb?: { ready: boolean } }).__wb?.ready === true)
  return page
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await mkdir(ARTIFACTS, { recursive: true })
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`) })
}
