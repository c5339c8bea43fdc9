/** POST /principals/{principal}/kick and PUT /principals/{principal}/read-only: a principal's connections on this node. */
import { jsonObject } from '../body.js'
import type { Handler } from '../context.js'
import { ApiError } from '../errors.js'

export const kickPrincipal: Handler = async (ctx, { body, params }) => {
  const { reason } = jsonObject(body)
  if (reason !== undefined && typeof reason !== 'string') throw new ApiError(400, 'bad-request', 'reason must be a string')
  return { json: { closed: ctx.kick(params.principal, reason) } }
}

export const setReadOnly: Handler = async (ctx, { body, params }) => {
  const { readOnly } = jsonObject(body)
  if (readOnly !== true && readOnly !== false && readOnly !== null) {
    throw new ApiError(400, 'bad-request', 'body must be { "readOnly": true | false | null } (null: back to what the token says)')
  }
  return { json: { changed: ctx.setReadOnly(params.principal, readOnly) } }
}
