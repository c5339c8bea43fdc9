/**
 * Server side of the whiteboard, loaded by `yroom serve --actions
 * examples/whiteboard/dist/server-actions.mjs` (as `npm start` does; never by default): the
 * vote widget's counter action set, a migration that gives every room a server-owned vote
 * counter, so votes can only change through actions, and, when the server has a JWT secret,
 * the demo login (login.ts).
 * Built to examples/whiteboard/dist/server-actions.mjs by build.ts.
 */
import * as Y from 'yjs'
import { META_KEY, OWNER_ID, SERVER_OWNER } from '../../src/shared/layout.js'
import type { Migration } from '../../plugins/actions/migrations.js'
import { counterActions } from './src/votes.js'
import type { YroomPlugin } from '../../server/plugin.js'
import { whiteboardLogin } from './login.js'

export const actionSets = [counterActions]

/**
 * With `--jwt-secret`, the demo login (login.ts) the page gets its tokens from. Tokens live
 * `loginTtlSeconds`, else `WHITEBOARD_TOKEN_TTL` seconds, else 10 minutes (a short one shows
 * the refresh at work).
 */
export function plugins({ jwtSecret, loginTtlSeconds }: { jwtSecret?: string; loginTtlSeconds?: number }): YroomPlugin[] {
  const ttlSeconds = loginTtlSeconds ?? (Number(process.env.WHITEBOARD_TOKEN_TTL) || undefined)
  return jwtSecret ? [whiteboardLogin({ secret: jwtSecret, ttlSeconds })] : []
}

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
