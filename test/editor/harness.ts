/**
 * Browser harness for the editor: the whiteboard harness's Chromium, server, relay (also the
 * network cut) and temp directories, plus what is editor-specific: its bundle, opening a
 * document, putting the caret into a section.
 */
import { join } from 'node:path'
import { mkdir } from 'node:fs/promises'
import type { BrowserContext, Page } from 'playwright-core'
import { buildEditor } from '../../examples/editor/build.js'
import { buildWhiteboard } from '../../examples/whiteboard/build.js'
import { tempDir } from '../whiteboard/harness.js'

export { launchBrowser, relay, SKIP_BROWSER, startWhiteboardServer as startServer, tempDir, type Browser, type WhiteboardServer as Server } from '../whiteboard/harness.js'

export const ARTIFACTS = join(process.cwd(), 'test-artifacts', 'editor')

export interface SectionInfo {
  key: string
  /** The section's Y.Text. */
  text: string
  /** What its CodeMirror view shows (must equal `text`). */
  shown: string
  owner: number
  locked: boolean
  undo: number
  redo: number
}

export interface EditorHooks {
  ready: boolean
  clientID: number
  status: string
  docName: string
  notices: Array<{ text: string; reason: string; path: Array<string | number> }>
  sections(): SectionInfo[]
  text(i: number): string | undefined
  documents(): string[]
  /** Every status change so far: 'connecting', 'connected 1006', ... */
  statusLog: string[]
  /** The document's state vector: client id → next clock. */
  stateVector(): Record<number, number>
  /** Section `i`'s CodeMirror EditorView (only what the tests use). */
  view(i: number): { contentDOM: HTMLElement }
}

/**
 * Builds the site `yroom serve` serves, into a temp directory: the whiteboard at its root and
 * the editor in `editor/`, with the builds `npm run build:whiteboard` / `build:editor` use.
 */
export async function buildEditorSite(): Promise<{ dir: string; remove(): void }> {
  const dir = tempDir('yroom-editor-dist-')
  await buildWhiteboard(dir.path)
  await buildEditor(join(dir.path, 'editor'))
  return { dir: dir.path, remove: dir.remove }
}

/** Opens document `doc` as `name` and waits until the page is synced with its sections shown. */
export async function openEditor(context: BrowserContext, http: string, doc: string, name: string): Promise<Page> {
  const page = await context.newPage()
  page.setDefaultTimeout(20_000) // a failed wait names its condition well within the test's timeout
  page.on('pageerror', (err) => console.error(`[${name}] page error:`, err))
  await page.goto(`${http}/editor/?name=${encodeURIComponent(name)}#${doc}`)
  await waitReady(page)
  return page
}

export async function waitReady(page: Page): Promise<void> {
  await page.waitForFunction(() => (window as unknown as { __editor?: EditorHooks }).__editor?.ready === true)
}

/** Clicks into section `i` (a real click), then puts the caret at the end of its text. */
export async function focusSection(page: Page, i: number): Promise<void> {
  await page.locator('.section .cm-content').nth(i).click()
  await page.keyboard.press('Control+End')
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await mkdir(ARTIFACTS, { recursive: true })
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`) })
}
