/**
 * Undo/redo of this tab's own changes to the shapes, with Yjs's UndoManager.
 *
 * The SDK writes local changes in transactions with origin `null` (datastore.transact and
 * property setters call doc.transact without an origin), and applies what the server sends
 * with its transport as origin. Tracking only `null` therefore tracks exactly our own edits:
 * other tabs' changes, server rollbacks and lock/unlock (LOCK_ORIGIN) are not undone.
 * Cursors and presence live in `root.peers`, outside the scope.
 */
import * as Y from 'yjs'
import type { App } from './app.js'

export function createUndoManager(app: App): Y.UndoManager | null {
  const scope = app.board.shapes.yMap
  if (!scope) return null
  // Steps are delimited by gestures (stopCapturing), not by time: a slow stroke is one step.
  const um = new Y.UndoManager(scope, { trackedOrigins: new Set([null]), captureTimeout: Number.POSITIVE_INFINITY })
  const refresh = () => app.render()
  um.on('stack-item-added', refresh)
  um.on('stack-item-popped', refresh)
  return um
}
