/**
 * The connection indicator. "synced" is the only state in which what you see is what the
 * server has; in every other state you keep editing, and the edits are sent when the room is
 * back in sync (the SDK answers the server's sync request with everything it lacks).
 */
import type { Room, StatusEvent } from '../../../src/index.js'

export function renderStatus(room: Room, el: HTMLElement, hint: HTMLElement, e: StatusEvent | null): void {
  const status = room.synced ? 'synced' : room.status
  el.dataset.status = status
  el.textContent = status + (e && e.status !== 'connected' && e.code ? ` (${e.code}${e.reason ? `: ${e.reason}` : ''})` : '')
  hint.textContent =
    status === 'synced'
      ? ''
      : status === 'closed'
        ? 'the server refused this connection; your edits stay in this tab'
        : 'keep typing: your edits are sent when the connection is back'
}
