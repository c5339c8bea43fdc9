/** POST /rooms/{room}/actions: runs a registered action as the server (the actions plugin's `run`). */
import { ActionRefused } from '../../../src/shared/actions/define.js'
import type { JsonValue } from '../../../src/shared/actions/snapshot.js'
import type { ModelPath } from '../../../src/shared/protocol/extension.js'
import { MAX_JSON_DEPTH } from '../../../src/shared/protocol/json-depth.js'
import type { ActionsPlugin } from '../../../plugins/actions/index.js'
import { jsonObject } from '../body.js'
import type { ApiContext, Handler } from '../context.js'
import { ApiError } from '../errors.js'
import { requireRoom, translate } from '../room-access.js'

function actionsOf(ctx: ApiContext): ActionsPlugin {
  const p = ctx.plugins.find((x): x is ActionsPlugin => x.name === 'actions' && typeof (x as Partial<ActionsPlugin>).run === 'function')
  if (!p) throw new ApiError(404, 'no-actions', 'this server runs no actions plugin (yroom serve --actions MODULE)')
  return p
}

/** How deep `value` nests arrays and objects (iteratively: a hostile body is deeper than the stack). */
function depthOf(value: unknown): number {
  let max = 0
  const stack: Array<[unknown, number]> = [[value, 0]]
  while (stack.length > 0) {
    const [v, d] = stack.pop()!
    if (typeof v !== 'object' || v === null) continue
    if (d + 1 > max) max = d + 1
    for (const child of Object.values(v)) stack.push([child, d + 1])
  }
  return max
}

function parse(body: Record<string, unknown>): { path: ModelPath; action: string; args: JsonValue[] } {
  const { path, action, args = [] } = body
  const pathOk = Array.isArray(path) && path.length > 0 && typeof path[0] === 'string' && path.every((s) => typeof s === 'string' || (typeof s === 'number' && Number.isInteger(s) && s >= 0))
  if (!pathOk || typeof action !== 'string' || !Array.isArray(args)) {
    throw new ApiError(400, 'bad-request', 'body must be { "path": ["root", "key", …], "action": "name", "args": [ … ] }')
  }
  // The action's checks walk its arguments recursively: a deeper value would overflow the
  // stack. The limit is the one a client's action request is held to (readAnyChecked).
  if (depthOf(args) > MAX_JSON_DEPTH) throw new ApiError(400, 'bad-request', `args nest deeper than ${MAX_JSON_DEPTH} levels`)
  return { path: path as ModelPath, action, args: args as JsonValue[] }
}

export const runAction: Handler = async (ctx, { body, params }) => {
  const actions = actionsOf(ctx)
  const { path, action, args } = parse(jsonObject(body))
  await requireRoom(ctx, params.room)
  try {
    // Loaded first: the action's effect is broadcast at once, and the room's events (webhooks) see it.
    // In cluster mode this makes this node the room's authority, or refuses (409) if another is.
    await ctx.rooms.open(params.room)
    const out = await actions.run(ctx.rooms, params.room, path, action, args)
    return { json: { data: out.data, duplicate: out.duplicate } }
  } catch (err) {
    if (err instanceof ActionRefused) throw new ApiError(409, err.reason, err.message)
    throw translate(err)
  }
}
