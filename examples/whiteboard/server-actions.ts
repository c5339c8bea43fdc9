/**
 * Server side of the whiteboard's vote widget, loaded by `yroom serve --actions
 * examples/whiteboard/dist/server-actions.mjs` (as `npm start` does; never by default): the counter action set, and a migration that
 * gives every room a server-owned vote counter, so votes can only change through actions.
 * Built to examples/whiteboard/dist/server-actions.mjs by build.ts.
 */
import * as Y from 'yjs'
import { META_KEY, OWNER_ID, SERVER_OWNER } from '../../src/shared/layout.js'
import type { Migration } from '../../plugins/actions/migrations.js'
import { counterActions } from './src/votes.js'

export const actionSets = [counterActions]

export const migrations: Migration[] = [
  {
    name: 'whiteboard: vote counter',
    up(doc: Y.Doc) {
      const counters = doc.getMap('counters')
      if (counters.has('votes')) return
      const counter = new Y.Map<unknown>()
      const meta = new Y.Map<unknown>()
      meta.set(OWNER_ID, SERVER_OWNER)
      meta.set('actions', counterActions.name)
      counter.set(META_KEY, meta)
      counter.set('value', 0)
      counters.set('votes', counter)
    },
  },
]
