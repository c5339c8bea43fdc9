/**
 * Every route of the HTTP API, one table: the router (api.ts) serves it and a test checks
 * that docs/openapi.json describes exactly these. `{name}` is one path segment, percent-
 * decoded (a room name holding `/` is sent as `%2F`).
 */
import type { Handler } from './context.js'
import { runAction } from './routes/actions.js'
import { kickPrincipal, setReadOnly } from './routes/principals.js'
import { deleteRoom, listRooms, readRoom } from './routes/rooms.js'
import { getUpdate, postUpdate } from './routes/update.js'

export const API_PREFIX = '/api/v1'

export interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE'
  /** Under API_PREFIX, e.g. `/rooms/{room}`. */
  path: string
  handler: Handler
}

export const ROUTES: readonly Route[] = [
  { method: 'GET', path: '/rooms', handler: listRooms },
  { method: 'GET', path: '/rooms/{room}', handler: readRoom },
  { method: 'DELETE', path: '/rooms/{room}', handler: deleteRoom },
  { method: 'GET', path: '/rooms/{room}/update', handler: getUpdate },
  { method: 'POST', path: '/rooms/{room}/update', handler: postUpdate },
  { method: 'POST', path: '/rooms/{room}/actions', handler: runAction },
  { method: 'POST', path: '/principals/{principal}/kick', handler: kickPrincipal },
  { method: 'PUT', path: '/principals/{principal}/read-only', handler: setReadOnly },
]

/** The route's parameters when `segments` (still encoded) match its path, else null. */
export function matchPath(path: string, segments: string[]): Record<string, string> | null {
  const parts = path.split('/').slice(1)
  if (parts.length !== segments.length) return null
  const params: Record<string, string> = {}
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]
    if (p.startsWith('{') && p.endsWith('}')) {
      if (segments[i] === '') return null
      params[p.slice(1, -1)] = segments[i]
    } else if (p !== segments[i]) return null
  }
  return params
}
