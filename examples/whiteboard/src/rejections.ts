/**
 * Turns the room's 'rejected' events into a visible notice. The server sends the notice
 * just before the compensating update that snaps our change back; for a delete, the shape
 * is gone from our replica at that moment, so owners are remembered from the last state.
 */
import type { RejectedChange } from '../../../src/index.js'
import { ownerName, type App } from './app.js'

export interface NoticeRecord {
  text: string
  reason: string
  path: Array<string | number>
}

const REPEAT_MS = 1500

export function watchRejections(app: App, log: NoticeRecord[]): void {
  const owners = new Map<string, number>()
  app.room.doc.on('afterTransaction', () => {
    // Entries are kept after a shape disappears: our own refused delete removes it first.
    for (const s of app.board.shapes) {
      const key = app.board.shapes.keyOf(s)
      if (key !== null) owners.set(key, s.ownerIDSelf)
    }
  })
  let last = { key: '', at: 0 }
  app.room.on('rejected', (c: RejectedChange) => {
    const key = c.path[0] === 'root' && c.path[1] === 'shapes' && typeof c.path[2] === 'string' ? c.path[2] : null
    const owner = key !== null ? owners.get(key) : undefined
    const text =
      owner !== undefined && owner !== -1 && (c.reason === 'owned-by-another' || c.reason === 'takeover-prevented')
        ? `This shape is locked by ${ownerName(app, owner)}. The server undid your change.`
        : `The server undid a change of yours: ${c.message || c.reason}`
    log.push({ text, reason: c.reason, path: c.path })
    // While dragging a locked shape every frame is refused: one notice per burst.
    const now = Date.now()
    if (key === last.key && now - last.at < REPEAT_MS) {
      last.at = now
      return
    }
    last = { key: key ?? '', at: now }
    app.notify(text, 'warn')
  })
}
