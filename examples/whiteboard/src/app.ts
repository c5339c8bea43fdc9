/** The state one tab keeps besides the document, and lookups shared by the UI modules. */
import type * as Y from 'yjs'
import type { Room } from '../../../src/index.js'
import type { Board, Peer, Shape } from './models.js'
import type { Board as BoardType } from './models.js'

export type Tool = 'select' | 'pen' | 'rect' | 'ellipse'

export interface App {
  room: Room<typeof BoardType>
  board: Board
  /** This tab's presence / cursor model (re-created after a reconnect removed it). */
  me: Peer | null
  name: string
  tool: Tool
  color: string
  /** Key of the selected shape in `board.shapes`. */
  selected: string | null
  /** The stroke being drawn here: rendered from these points until the gesture ends. */
  draft: { key: string; points: number[] } | null
  undo: Y.UndoManager | null
  /** Schedules a repaint. */
  render(): void
  /** Shows a short message at the bottom of the page. */
  notify(text: string, kind?: 'info' | 'warn'): void
}

export function shapeEntries(app: App): Array<[string, Shape]> {
  const out: Array<[string, Shape]> = []
  for (const s of app.board.shapes) {
    const key = app.board.shapes.keyOf(s)
    if (key !== null) out.push([key, s])
  }
  return out.sort(([ka, a], [kb, b]) => a.z - b.z || (ka < kb ? -1 : 1))
}

export function shapeByKey(app: App, key: string | null): Shape | null {
  if (key === null) return null
  const map = app.board.shapes.yMap?.get(key)
  if (!map) return null
  for (const s of app.board.shapes) if (s.yMap === map) return s
  return null
}

export function peerOf(app: App, clientID: number): Peer | null {
  for (const p of app.board.peers) if (p.ownerIDSelf === clientID) return p
  return null
}

/** "you", a peer's name, or a note that the owner is gone (anonymous locks outlive their tab). */
export function ownerName(app: App, clientID: number): string {
  if (clientID === app.room.clientID) return 'you'
  if (clientID === 0) return 'the server'
  return peerOf(app, clientID)?.name ?? `a user who left (#${clientID})`
}
