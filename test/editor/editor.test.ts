/**
 * The editor example in a real browser (issue 20): pages of Debian's headless Chromium on one
 * document of a real in-process server, typing with the keyboard. Screenshots go to
 * test-artifacts/editor/.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Page } from 'playwright-core'
import {
  buildEditorSite,
  focusSection,
  launchBrowser,
  networkSwitch,
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

declare const window: { __editor: EditorHooks }

const sections = (page: Page) => page.evaluate(() => window.__editor.sections())
const clientID = (page: Page) => page.evaluate(() => window.__editor.clientID)

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
    await a.waitForFunction(() => [...document.querySelectorAll('.cm-ySelectionInfo')].some((e) => e.textContent === 'Bob'))
    await b.waitForFunction(() => [...document.querySelectorAll('.cm-ySelectionInfo')].some((e) => e.textContent === 'Alice'))
    expect(await b.locator('.cm-ySelectionCaret').first().isVisible()).toBe(true)
    // Both are listed as here now, and the document is in the shared document list.
    await a.waitForFunction(() => document.querySelectorAll('#people-list li').length === 2)
    await a.waitForFunction(() => window.__editor.documents().includes('typing'))
    await screenshot(a, '1-typing-page-a')
    await screenshot(b, '1-typing-page-b')
    await Promise.all([a.close(), b.close()])
  })
})
