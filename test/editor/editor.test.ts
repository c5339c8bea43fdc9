/**
 * The editor example in a real browser (issue 20): pages of Debian's headless Chromium on one
 * document of a real in-process server, typing with the keyboard. Screenshots go to
 * test-artifacts/editor/.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import type { Page } from 'playwright-core'
import {
  buildEditorSite,
  focusSection,
  launchBrowser,
  openEditor,
  relay,
  screenshot,
  SKIP_BROWSER,
  startServer,
  tempDir,
  waitReady,
  type Browser,
  type EditorHooks,
  type Server,
} from './harness.js'
import { until } from '../helpers.js'

declare const window: { __editor: EditorHooks }

const sections = (page: Page) => page.evaluate(() => window.__editor.sections())
const clientID = (page: Page) => page.evaluate(() => window.__editor.clientID)
const texts = (page: Page) => page.evaluate(() => window.__editor.sections().map((s) => s.text))

/** The sections' texts as the server holds them, in document order. */
function serverTexts(server: Server, doc: string): string[] {
  const root = server.server.rooms.get(`editor-${doc}`)?.doc.getMap('root')
  const set = root?.get('sections') as Y.Map<unknown> | undefined
  if (!set) return []
  return [...set.entries()]
    .filter(([key]) => key !== '$meta')
    .map(([key, m]) => ({ key, m: m as Y.Map<unknown> }))
    .sort((a, b) => (a.m.get('order') as number) - (b.m.get('order') as number) || (a.key < b.key ? -1 : 1))
    .map(({ m }) => (m.get('text') as Y.Text).toString())
}

/** Resolves once `page` has received everything the server holds (e.g. a rollback's new items). */
async function caughtUp(page: Page, server: Server, doc: string): Promise<void> {
  const serverDoc = server.server.rooms.get(`editor-${doc}`)!.doc
  const want = Object.fromEntries(Y.decodeStateVector(Y.encodeStateVector(serverDoc)))
  await page.waitForFunction(
    (want) => {
      const have = window.__editor.stateVector()
      return Object.entries(want).every(([client, clock]) => (have[Number(client)] ?? 0) >= clock)
    },
    want,
  )
}

/** Pastes `text` at the caret of section `i` the way a browser does: a paste event with clipboard data. */
async function paste(page: Page, i: number, text: string): Promise<void> {
  await page.evaluate(
    ([i, text]) => {
      const data = new DataTransfer()
      data.setData('text/plain', text as string)
      const event = new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true })
      window.__editor.view(i as number).contentDOM.dispatchEvent(event)
    },
    [i, text] as const,
  )
}

/** Clicks section `i`'s Lock / Unlock button. */
const clickLock = (page: Page, i: number) => page.locator('.section .lock').nth(i).click()

/** Waits until section `i` holds `text` in both the Y.Text and the CodeMirror view. */
async function waitText(page: Page, i: number, text: string): Promise<void> {
  await page.waitForFunction(
    ([i, text]) => {
      const s = window.__editor.sections()[i as number]
      return s?.text === text && s.shown === text
    },
    [i, text] as const,
  )
}

// Generous per-test time: Chromium shares 2 cores with the rest of the suite in CI.
describe.skipIf(SKIP_BROWSER)('editor in Chromium', { timeout: 60_000 }, () => {
  let browser: Browser
  let srv: Server
  let site: Awaited<ReturnType<typeof buildEditorSite>> | undefined
  const data = tempDir('yroom-editor-data-')

  beforeAll(async () => {
    site = await buildEditorSite()
    srv = await startServer(data.path, site.dir)
    browser = await launchBrowser()
  })

  afterAll(async () => {
    await browser?.close()
    await srv?.close()
    data.remove()
    site?.remove()
  })

  it('is served at /editor/ (and /editor redirects there); it and the whiteboard link to each other', async () => {
    const res = await fetch(`${srv.http}/editor`)
    expect(res.redirected).toBe(true)
    expect(new URL(res.url).pathname).toBe('/editor/')
    const html = await res.text()
    expect(html).toContain('<title>yroom editor</title>')
    expect(html).toContain('href="../"')
    expect(await (await fetch(`${srv.http}/`)).text()).toContain('href="editor/"')
  })

  it('typing in two pages converges; each page shows the other one’s cursor with its name', async () => {
    const a = await openEditor(browser.context, srv.http, 'typing', 'Alice')
    const b = await openEditor(browser.context, srv.http, 'typing', 'Bob')
    expect(await sections(b)).toHaveLength(1)
    await focusSection(a, 0)
    await a.keyboard.type('Hello from Alice.')
    await waitText(b, 0, 'Hello from Alice.')
    await focusSection(b, 0)
    await b.keyboard.press('Enter')
    await b.keyboard.type('And Bob.')
    const both = 'Hello from Alice.\nAnd Bob.'
    await waitText(a, 0, both)
    await waitText(b, 0, both)
    // Concurrent typing at both ends.
    await Promise.all([a.keyboard.type(' A1 A2'), b.keyboard.type(' B1 B2')])
    await a.waitForFunction(() => /A1 A2/.test(window.__editor.text(0) ?? '') && /B1 B2/.test(window.__editor.text(0) ?? ''))
    await b.waitForFunction(() => /A1 A2/.test(window.__editor.text(0) ?? '') && /B1 B2/.test(window.__editor.text(0) ?? ''))
    const [onA] = await sections(a)
    const [onB] = await sections(b)
    expect(onB.text).toBe(onA.text)
    expect(onA.shown).toBe(onA.text)
    expect(onB.shown).toBe(onB.text)

    // Remote cursors: a caret labelled with the other page's name, in its colour.
    await a.waitForFunction(() => Array.from(document.querySelectorAll('.cm-ySelectionInfo')).some((e) => e.textContent === 'Bob'))
    await b.waitForFunction(() => Array.from(document.querySelectorAll('.cm-ySelectionInfo')).some((e) => e.textContent === 'Alice'))
    expect(await b.locator('.cm-ySelectionCaret').first().isVisible()).toBe(true)
    // Both are listed as here now, and the document is in the shared document list.
    await a.waitForFunction(() => document.querySelectorAll('#people-list li').length === 2)
    await a.waitForFunction(() => window.__editor.documents().includes('typing'))
    await screenshot(a, '1-typing-page-a')
    await screenshot(b, '1-typing-page-b')
    await Promise.all([a.close(), b.close()])
  })

  it('a document created from the sidebar opens in its own room and appears in the other page’s list', async () => {
    const a = await openEditor(browser.context, srv.http, 'lists', 'Alice')
    const b = await openEditor(browser.context, srv.http, 'lists', 'Bob')
    await focusSection(a, 0)
    await a.keyboard.type('In the first document.')
    await waitText(b, 0, 'In the first document.')
    await a.click('#new-doc-name')
    await a.keyboard.type('Meeting Notes')
    await a.keyboard.press('Enter')
    await a.waitForURL(/#meeting-notes$/)
    await waitReady(a)
    expect(await a.evaluate(() => window.__editor.docName)).toBe('meeting-notes')
    expect(await texts(a)).toEqual([''])
    await b.waitForFunction(() => window.__editor.documents().includes('meeting-notes'))
    await b.click('#docs a[href="#meeting-notes"]')
    await b.waitForURL(/#meeting-notes$/)
    await waitReady(b)
    await focusSection(b, 0)
    await b.keyboard.type('Second document.')
    await waitText(a, 0, 'Second document.')
    // The first document is untouched, and a taken name is not created twice.
    expect(serverTexts(srv, 'lists')).toEqual(['In the first document.'])
    await a.click('#new-doc-name')
    await a.keyboard.type('lists')
    await a.keyboard.press('Enter')
    await a.waitForFunction(() => document.querySelector('#notice.visible')?.textContent?.includes('exists already') === true)
    expect(await a.evaluate(() => window.__editor.docName)).toBe('meeting-notes')
    await Promise.all([a.close(), b.close()])
  })

  it('a 150 KB paste reaches the other page, later typing follows it, and it survives a reload', async () => {
    const a = await openEditor(browser.context, srv.http, 'paste', 'Alice')
    const b = await openEditor(browser.context, srv.http, 'paste', 'Bob')
    await focusSection(a, 0)
    await a.keyboard.type('Before. ')
    const big = Array.from({ length: 2800 }, (_, i) => `${String(i).padStart(4, '0')} the quick brown fox jumps over the lazy dog, twice`).join('\n')
    expect(big.length).toBeGreaterThan(150_000)
    await paste(a, 0, big)
    await a.keyboard.type(' After.')
    const expected = `Before. ${big} After.`
    await waitText(a, 0, expected)
    await waitText(b, 0, expected)
    expect(serverTexts(srv, 'paste')).toEqual([expected])
    // No reconnect loop: the page stayed connected throughout.
    expect(await a.evaluate(() => window.__editor.statusLog.filter((s) => s !== 'connecting' && s !== 'connected'))).toEqual([])
    await screenshot(b, '2-paste-page-b')

    await b.reload()
    await waitReady(b)
    await waitText(b, 0, expected)
    await Promise.all([a.close(), b.close()])
  })

  it('edits made offline and edits made meanwhile by another page meet on reconnect', async () => {
    // Page A reaches the server through a relay that can cut its network; B connects directly.
    const front = await relay()
    front.target = srv.server.port
    try {
      const a = await openEditor(browser.context, front.http, 'offline', 'Alice')
      const b = await openEditor(browser.context, srv.http, 'offline', 'Bob')
      await focusSection(a, 0)
      await a.keyboard.type('Shared line.')
      await waitText(b, 0, 'Shared line.')

      front.offline = true
      await a.waitForFunction(() => window.__editor.status !== 'synced' && document.getElementById('status')?.dataset.status !== 'synced')
      await a.keyboard.type(' Alice offline.')
      await a.click('#add-section')
      await a.waitForFunction(() => window.__editor.sections().length === 2)
      await a.keyboard.type('A section made offline.')
      // B keeps editing meanwhile, at the start of the line.
      await focusSection(b, 0)
      await b.keyboard.press('Control+Home')
      await b.keyboard.type('Bob online. ')
      await until(() => serverTexts(srv, 'offline')[0] === 'Bob online. Shared line.', { message: "B's edit on the server" })
      await screenshot(a, '3-offline-page-a')
      expect(await texts(a)).toEqual(['Shared line. Alice offline.', 'A section made offline.'])
      expect(await texts(b)).toEqual(['Bob online. Shared line.'])

      front.offline = false
      const merged = ['Bob online. Shared line. Alice offline.', 'A section made offline.']
      for (const page of [a, b]) {
        await page.waitForFunction(() => window.__editor.ready && window.__editor.status === 'synced')
        for (const [i, text] of merged.entries()) await waitText(page, i, text)
      }
      expect(serverTexts(srv, 'offline')).toEqual(merged)
      await screenshot(b, '3-caught-up-page-b')
      await Promise.all([a.close(), b.close()])
    } finally {
      await front.close()
    }
  })

  it("page B's typing in a section page A locked is rolled back with a notice; A's text never changes", async () => {
    const a = await openEditor(browser.context, srv.http, 'locks', 'Alice')
    const b = await openEditor(browser.context, srv.http, 'locks', 'Bob')
    const idA = await clientID(a)
    await focusSection(a, 0)
    await a.keyboard.type('Owned by Alice.')
    await waitText(b, 0, 'Owned by Alice.')
    await clickLock(a, 0)
    await b.waitForFunction((id) => window.__editor.sections()[0].owner === id, idA)
    await b.waitForFunction(() => document.querySelector('.section')?.getAttribute('data-locked') === 'other')
    await b.waitForFunction(() => document.querySelector('.section .badge')?.textContent === 'locked by Alice')

    // A records every text its replica ever holds: B's refused typing must never reach it.
    await a.evaluate(() => {
      const seen = new Set<string>()
      ;(window as unknown as { seen: Set<string> }).seen = seen
      const room = (window.__editor as unknown as { room: { doc: { on(e: string, f: () => void): void } } }).room
      room.doc.on('afterTransaction', () => seen.add(window.__editor.text(0) ?? ''))
    })

    await focusSection(b, 0)
    await b.keyboard.type(' Bob was here.')
    await b.waitForFunction(() => document.querySelector('#notice.visible')?.textContent?.includes('locked by Alice') === true)
    await waitText(b, 0, 'Owned by Alice.')
    const notices = await b.evaluate(() => window.__editor.notices)
    expect(notices.length).toBeGreaterThan(0)
    expect(notices.every((n) => n.reason === 'owned-by-another')).toBe(true)
    await screenshot(b, '4-locked-rolled-back-page-b')
    await caughtUp(a, srv, 'locks')
    expect(await texts(a)).toEqual(['Owned by Alice.'])
    expect([...(await a.evaluate(() => [...(window as unknown as { seen: Set<string> }).seen]))]).toEqual(['Owned by Alice.'])
    expect(serverTexts(srv, 'locks')).toEqual(['Owned by Alice.'])

    // A unlocks; now B's typing is accepted and reaches A.
    await clickLock(a, 0)
    await b.waitForFunction(() => window.__editor.sections()[0].owner === -1)
    await focusSection(b, 0)
    await b.keyboard.type(' Bob too.')
    await waitText(a, 0, 'Owned by Alice. Bob too.')
    await Promise.all([a.close(), b.close()])
  })

  it("the owner's undo after a rejected delete restores exactly its own earlier text; redo brings it back", async () => {
    const a = await openEditor(browser.context, srv.http, 'undo', 'Alice')
    const b = await openEditor(browser.context, srv.http, 'undo', 'Bob')
    const idA = await clientID(a)
    await clickLock(a, 0)
    await b.waitForFunction((id) => window.__editor.sections()[0].owner === id, idA)
    await focusSection(a, 0)
    await a.keyboard.type('hello world')
    // A pause longer than the undo manager's capture timeout (500 ms) ends an undo step, as
    // when a user stops typing.
    await a.waitForTimeout(700)
    await a.keyboard.type(' again')
    await waitText(b, 0, 'hello world again')
    expect((await sections(a))[0]).toMatchObject({ undo: 2, redo: 0 })

    // B selects "ain" and deletes it: refused, rolled back on B (the server re-inserts the text).
    await focusSection(b, 0)
    for (let i = 0; i < 3; i++) await b.keyboard.press('Shift+ArrowLeft')
    await b.keyboard.press('Backspace')
    await b.waitForFunction(() => window.__editor.notices.length > 0)
    await waitText(b, 0, 'hello world again')
    await caughtUp(a, srv, 'undo')
    await waitText(a, 0, 'hello world again')

    // A's undo takes back " again", its own last step: nothing of it may remain.
    await a.keyboard.press('Control+z')
    await waitText(a, 0, 'hello world')
    await waitText(b, 0, 'hello world')
    // Capital Z: with Shift held a real keyboard reports "Z", which is what CodeMirror's keymap matches.
    await a.keyboard.press('Control+Shift+Z')
    await waitText(a, 0, 'hello world again')
    await waitText(b, 0, 'hello world again')
    expect(serverTexts(srv, 'undo')).toEqual(['hello world again'])
    await Promise.all([a.close(), b.close()])
  })

  it('both pages reconnect to a restarted server (same data directory) and keep editing', async () => {
    const own = tempDir('yroom-editor-restart-')
    // Pages keep one address across the restart through a relay (see harness.relay).
    const front = await relay()
    let server = await startServer(own.path, site!.dir)
    front.target = server.server.port
    try {
      const a = await openEditor(browser.context, front.http, 'restart', 'Alice')
      const b = await openEditor(browser.context, front.http, 'restart', 'Bob')
      await focusSection(a, 0)
      await a.keyboard.type('Before the restart.')
      await waitText(b, 0, 'Before the restart.')

      await server.close()
      for (const page of [a, b]) await page.waitForFunction(() => document.getElementById('status')?.dataset.status !== 'synced')
      expect(await a.textContent('#status')).toMatch(/^(disconnected|connecting)/)
      await a.keyboard.type(' Typed while down.')
      await screenshot(a, '6-server-down-page-a')

      server = await startServer(own.path, site!.dir)
      front.target = server.server.port
      for (const page of [a, b]) await page.waitForFunction(() => window.__editor.ready && document.getElementById('status')?.dataset.status === 'synced')
      await waitText(b, 0, 'Before the restart. Typed while down.')
      await focusSection(b, 0)
      await b.keyboard.type(' After, by Bob.')
      const final = 'Before the restart. Typed while down. After, by Bob.'
      await waitText(a, 0, final)
      await waitText(b, 0, final)
      expect(serverTexts(server, 'restart')).toEqual([final])
      await screenshot(a, '6-after-restart-page-a')
      await Promise.all([a.close(), b.close()])
    } finally {
      await server.close()
      await front.close()
      own.remove()
    }
  })
})
