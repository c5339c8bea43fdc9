/**
 * Turns the room's 'rejected' events into a visible notice. The server sends the notice just
 * before the compensating update that takes our edit back out of the editor, so the user sees
 * why their typing vanished.
 */
import type { RejectedChange } from '../../../src/index.js'
import { sortedSections, userName, type App } from './app.js'

export interface NoticeRecord {
  text: string
  reason: string
  path: Array<string | number>
}

/** Every keystroke in a locked section is refused on its own: one notice per burst. */
const REPEAT_MS = 1500

export function watchRejections(app: App, log: NoticeRecord[]): void {
  let last = { key: '', at: 0 }
  app.room.on('rejected', (c: RejectedChange) => {
    // Paths are ['root', 'sections', <key>, 'text', ...] for an edit inside a section.
    const key = c.path[0] === 'root' && c.path[1] === 'sections' && typeof c.path[2] === 'string' ? c.path[2] : null
    const entries = sortedSections(app)
    const index = entries.findIndex((e) => e.key === key)
    const owner = index >= 0 ? entries[index].section.ownerIDInHierarchy : -1
    const text =
      owner !== -1 && (c.reason === 'owned-by-another' || c.reason === 'takeover-prevented')
        ? `Section ${index + 1} is locked by ${userName(app, owner)}. The server undid your edit.`
        : `The server undid an edit of yours: ${c.message || c.reason}`
    log.push({ text, reason: c.reason, path: c.path })
    const now = Date.now()
    const repeat = key === last.key && now - last.at < REPEAT_MS
    last = { key: key ?? '', at: now }
    if (!repeat) app.notify(text, 'warn')
  })
}
