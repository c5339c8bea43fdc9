/** What the inspector's log shows: rejections, actions, joins and leaves, ownership changes. */
import type { ModelPath } from '../../src/shared/protocol/extension.js'
import type { PathOwner } from './owner-at.js'

interface Base {
  /** When (ms since the epoch). */
  t: number
}

export type LogEntry = Base &
  (
    | { kind: 'rejection'; path: ModelPath; reason: string; message: string; principal: string; clientID: number | null; conn: number; owner: PathOwner | null }
    | { kind: 'action'; action: string; path: unknown; principal: string | null; result: string; message?: string }
    | { kind: 'join' | 'leave'; principal: string; clientID: number | null; conn: number }
    | { kind: 'owner'; path: string; from: number | null; to: number | null }
  )

/** Entries kept per watched room (the page shows them filterable). */
export const LOG_ENTRIES = 500
