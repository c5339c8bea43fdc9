/** POST /principals/{principal}/kick and PUT /principals/{principal}/read-only: a principal's connections on this node. */
import { readJsonObject } from '../body.js'
import type { Handler } from '../context.js'
import { ApiError } from '../errors.js'

export const kickPrincipal: Handler = async (ctx, { req, params }) => {
  const { reason } = await readJsonObject(req, ctx.maxBodyBytes)
  if (reason !== undefined && typeof reason !== 'string') throw new ApiError(400, 'bad-request', 'reason must be a string')
  return { json: { closed: ctx.kick(params.principal, reason) } }
}

export const setReadOnly: Handler = async (ctx, { req, params }) => {
  const { readOnly } = await readJsonObject(req, ctx.maxBodyBytes)
  if (readOnly !== true && readOnly !== false && readOnly !== null) {
    throw new ApiError(400, 'bad-request', 'body must be { "readOnly": true | false | null } (null: back to what the token says)')
  }
  return { json: { changed: ctx.setReadOnly(params.principal, readOnly) } }
}
