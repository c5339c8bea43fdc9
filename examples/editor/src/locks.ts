/**
 * Locking a section = owning it with preventOwnershipTakeover: nobody else may edit it, delete
 * it or take it over; the server rolls their edits back. Claim and flag travel in one update,
 * and the server decides (of two tabs locking at once, the first claim to arrive wins and the
 * other rolls back). Unlocking clears the owner.
 */
import { userName, type App } from './app.js'
import type { Section } from './models.js'

/** Lock and unlock get their own origin: no undo manager tracks it, so Ctrl+Z never unlocks. */
export const LOCK_ORIGIN = 'editor:lock'

export function toggleLock(app: App, section: Section): void {
  if (section.isOwnedRemotelySelf) {
    app.notify(`Locked by ${userName(app, section.ownerIDSelf)}: only they can unlock it.`, 'warn')
    return
  }
  app.room.doc.transact(() => {
    if (section.isOwnedLocallySelf) {
      section.preventOwnershipTakeover = false
      section.clearOwnership()
    } else {
      section.requestOwnership()
      section.preventOwnershipTakeover = true
    }
  }, LOCK_ORIGIN)
}
