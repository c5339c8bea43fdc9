/** What the toolbar buttons and keyboard shortcuts do. */
import { ownerName, shapeByKey, type App, type Tool } from './app.js'

/**
 * Origin of lock/unlock transactions. The undo manager tracks only the SDK's local origin
 * (null), so taking and releasing a lock is not something Ctrl+Z undoes.
 */
export const LOCK_ORIGIN = 'whiteboard:lock'

export function setTool(app: App, tool: Tool): void {
  app.tool = tool
  if (tool !== 'select') app.selected = null
  app.render()
}

/**
 * Deletes the selected shape. A shape locked by someone else is deleted here too: the
 * server refuses, re-creates it, and the 'rejected' notice explains why (that is the demo).
 */
export function deleteSelected(app: App): void {
  const shape = shapeByKey(app, app.selected)
  if (!shape) return
  app.undo?.stopCapturing()
  app.board.shapes.remove(shape)
  app.undo?.stopCapturing()
  app.selected = null
  app.render()
}

/**
 * Lock = own the shape with preventOwnershipTakeover (nobody else may edit, delete or take
 * it); unlock = clear ownership. Claim and flag travel in one update; the server decides
 * (of two tabs locking at once, the first claim to arrive wins and the other rolls back).
 */
export function toggleLock(app: App): void {
  const shape = shapeByKey(app, app.selected)
  if (!shape) {
    app.notify('Select a shape first (V, then click it).')
    return
  }
  if (shape.isOwnedRemotelySelf) {
    app.notify(`Locked by ${ownerName(app, shape.ownerIDSelf)}: only they can unlock it.`, 'warn')
    return
  }
  const doc = app.room.doc
  if (shape.isOwnedLocallySelf) {
    doc.transact(() => {
      shape.preventOwnershipTakeover = false
      shape.clearOwnership()
    }, LOCK_ORIGIN)
  } else {
    doc.transact(() => {
      shape.requestOwnership()
      shape.preventOwnershipTakeover = true
    }, LOCK_ORIGIN)
  }
  app.render()
}

export function undo(app: App): void {
  app.undo?.undo()
  app.render()
}

export function redo(app: App): void {
  app.undo?.redo()
  app.render()
}
