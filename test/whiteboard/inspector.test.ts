/**
 * The room inspector in a real browser (issue 27): the whiteboard and the inspector side by
 * side on one room. A shape claimed (locked) on the whiteboard changes its owner badge in the
 * inspector, in the colour of that client's cursor; a move refused by the server shows in the
 * inspector's log with its path, reason and author. Screenshots: test-artifacts/inspector/.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { createServer, type YroomServer } from '../../server/index.js'
import { defaultPlugins } from '../../plugins/index.js'
import { actionsPlugin } from '../../plugins/actions/index.js'
import { inspectorPlugin } from '../../plugins/inspector/index.js'
import { actionSets, migrations } from '../../examples/whiteboard/server-actions.js'
import { buildInspector } from '../../examples/inspector/build.js'
import { clientColor } from '../../src/shared/client-color.js'
import { buildBundle, launchBrowser, openBoard, SKIP_BROWSER, tempDir, type Browser } from './harness.js'

const ARTIFACTS = join(process.cwd(), 'test-artifacts', 'inspector')
const ROOM = 'inspected'

interface Hooks {
  room: { clientID: number }
  shapes(): Array<{ key: string; kind: string; owner: number }>
}
declare const window: { __wb: Hooks; __inspector: { ready: boolean } }

async function shot(page: Page, name: string): Promise<void> {
  await mkdir(ARTIFACTS, { recursive: true })
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`) })
}

async function drag(page: Page, from: { x: number; y: number }, to: { x: number; y: number }): Promise<void> {
  await page.mouse.move(from.x, from.y)
  await page.mouse.down()
  await page.mouse.move(to.x, to.y, { steps: 12 })
  await page.mouse.up()
}

/** The owner badge of the tree row whose path ends with `key`. */
const badgeOf = (page: Page, key: string) =>
  page.evaluate((k) => {
    const row = Array.from(document.querySelectorAll<HTMLElement>('#tree .row')).find((r) => r.dataset.path?.endsWith(`/${k}`))
    const badge = row?.querySelector<HTMLElement>('.badge')
    return badge ? { owner: Number(badge.dataset.owner), color: getComputedStyle(badge).backgroundColor } : null
  }, key)

/** `#rrggbb` as getComputedStyle writes it. */
const rgb = (hex: string) => `rgb(${parseInt(hex.slice(1, 3), 16)}, ${parseInt(hex.slice(3, 5), 16)}, ${parseInt(hex.slice(5, 7), 16)})`

describe.skipIf(SKIP_BROWSER)('room inspector in Chromium', { timeout: 90_000 }, () => {
  let browser: Browser
  let server: YroomServer
  let http: string
  let wb: Awaited<ReturnType<typeof buildBundle>> | undefined
  const page = tempDir('yroom-inspector-page-')
  const data = tempDir('yroom-inspector-data-')

  beforeAll(async () => {
    wb = await buildBundle()
    await buildInspector(page.path)
    // What `npm start` runs: default plugins, the whiteboard's actions, the inspector (--inspect).
    server = await createServer({
      host: '127.0.0.1',
      port: 0,
      storage: data.path,
      logger: 'silent',
      processMetrics: false,
      plugins: [...defaultPlugins(), actionsPlugin({ sets: actionSets, migrations }), inspectorPlugin({ open: true, pageDir: page.path })],
      staticDir: wb.dir,
    })
    http = `http://127.0.0.1:${await server.listen()}`
    browser = await launchBrowser()
  })

  afterAll(async () => {
    await browser?.close()
    await server?.close()
    wb?.remove()
    page.remove()
    data.remove()
  })

  it('a claimed shape changes its owner badge; a refused move shows in the log with path, reason and who', async () => {
    const a = await openBoard(browser.context, http, ROOM, 'Alice')
    const b = await openBoard(browser.context, http, ROOM, 'Bob')
    const inspector = await browser.context.newPage()
    inspector.setDefaultTimeout(20_000)
    inspector.on('pageerror', (err) => console.error('[inspector] page error:', err))
    await inspector.setViewportSize({ width: 1400, height: 820 })
    await inspector.goto(`${http}/inspect/?room=${ROOM}`)
    await inspector.waitForFunction(() => window.__inspector.ready)
    const idA = await a.evaluate(() => window.__wb.room.clientID)
    const idB = await b.evaluate(() => window.__wb.room.clientID)

    // Both clients are listed; each presence model is owned by its tab, flagged to go when it leaves.
    await inspector.waitForFunction(
      (ids) => ids.every((id) => document.querySelector(`#clients [data-client="${id}"]`)),
      [idA, idB],
    )
    await inspector.waitForFunction((id) => document.querySelector(`#tree .row.t-model .badge[data-owner="${id}"] ~ [data-flag=destroyWhenOwnerOrLastClientLeaves]`), idA)

    // A draws a rectangle: unowned in the inspector.
    await a.keyboard.press('r')
    await drag(a, { x: 300, y: 260 }, { x: 460, y: 360 })
    await a.waitForFunction(() => window.__wb.shapes().length === 1)
    const [{ key }] = await a.evaluate(() => window.__wb.shapes())
    await inspector.waitForFunction((k) => Array.from(document.querySelectorAll<HTMLElement>('#tree .row')).some((r) => r.dataset.path?.endsWith(`/${k}`)), key)
    expect(await badgeOf(inspector, key)).toMatchObject({ owner: -1 })

    // A locks it (claims ownership): the badge turns to A, in the colour of A's cursor on B's page.
    await a.keyboard.press('l')
    await inspector.waitForFunction(
      ({ k, id }) => {
        const row = Array.from(document.querySelectorAll<HTMLElement>('#tree .row')).find((r) => r.dataset.path?.endsWith(`/${k}`))
        return row?.querySelector<HTMLElement>('.badge')?.dataset.owner === String(id)
      },
      { k: key, id: idA },
    )
    const badge = (await badgeOf(inspector, key))!
    expect(badge.color).toBe(rgb(clientColor(idA)))
    await b.waitForFunction((id) => document.querySelector(`#cursors [data-client="${id}"] rect`)?.getAttribute('fill'), idA)
    const cursorFill = await b.evaluate((id) => document.querySelector(`#cursors [data-client="${id}"] rect`)!.getAttribute('fill'), idA)
    expect(cursorFill).toBe(clientColor(idA))
    await inspector.waitForFunction((k) => Array.from(document.querySelectorAll('#log li[data-kind=owner] .path')).some((p) => p.textContent?.endsWith(`/${k}`)), key)

    // B moves the locked shape: the server refuses it, and the log says where, why and who.
    await b.keyboard.press('v')
    await drag(b, { x: 380, y: 310 }, { x: 600, y: 460 })
    await inspector.waitForFunction(() => document.querySelector('#log li[data-kind=rejection]'))
    const rejection = await inspector.evaluate(() => {
      const li = document.querySelector<HTMLElement>('#log li[data-kind=rejection]')!
      return {
        path: li.querySelector('.path')!.textContent!,
        reason: li.querySelector('.reason')!.textContent!,
        who: li.querySelector<HTMLElement>('.who .badge')!.dataset.client,
        owner: li.querySelector<HTMLElement>('.owned .badge')?.dataset.owner,
      }
    })
    expect(rejection.path).toContain(key)
    expect(rejection.reason).toBe('owned-by-another')
    expect(rejection.who).toBe(String(idB))
    expect(rejection.owner).toBe(String(idA)) // whose the shape is: the answer to "why"
    await inspector.waitForFunction((id) => document.querySelector(`#clients [data-client="${id}"]`)?.closest('tr')?.querySelector('td.bad'), idB)

    // A vote goes through a server action: logged with its result.
    await a.waitForFunction(() => document.getElementById('vote')?.dataset.mode === 'actions')
    await a.click('#vote')
    await inspector.waitForFunction(() => Array.from(document.querySelectorAll('#log li[data-kind=action]')).some((li) => li.textContent?.includes('applied')))

    // The filter narrows the log to what matches.
    await inspector.fill('#log-filter', 'owned-by-another')
    await inspector.waitForFunction(() => Array.from(document.querySelectorAll<HTMLElement>('#log li')).every((li) => li.dataset.kind === 'rejection'))
    await inspector.fill('#log-filter', '')
    // Let the timeline gather a few seconds.
    await inspector.waitForTimeout(2500)

    await shot(a, 'whiteboard-a')
    await shot(b, 'whiteboard-b')
    await shot(inspector, 'inspector-room')

    // The room list shows the room, loaded here, with its two clients.
    await inspector.goto(`${http}/inspect/`)
    await inspector.waitForFunction((r) => document.querySelector(`#rooms tr[data-room="${r}"] td:nth-child(3)`)?.textContent === '2', ROOM)
    await shot(inspector, 'inspector-rooms')
    await Promise.all([a.close(), b.close(), inspector.close()])
  })
})
