/**
 * The actions plugin (SPEC §8): answers `action` requests from clients, lets backend code
 * run the same actions on any room (loaded or not), rejects direct CRDT writes to models of
 * action-only sets, and runs migrations when a room loads.
 */
import * as Y from 'yjs'
import { ACTION_METHOD } from '../../src/shared/protocol/actions.js'
import { META_KEY } from '../../src/shared/layout.js'
import { ActionRefused, type ActionSet } from '../../src/shared/actions/define.js'
import type { JsonValue } from '../../src/shared/actions/snapshot.js'
import type { ModelPath } from '../../src/shared/protocol/extension.js'
import { Refusal, type YroomPlugin, type RoomHandle } from '../../server/plugin.js'
import type { Rooms } from '../../server/room/rooms.js'
import { modelOf, parentModelOf } from '../../src/shared/model-tree.js'
import { ACTIONS_META_KEY, actionOnlySet, applyAction, type ActionOutcome, type ActionRequest, type DocAccess } from './apply.js'
import { runMigrations, type Migration } from './migrations.js'

export { ACTIONS_META_KEY, type ActionRequest, type ActionOutcome } from './apply.js'
export { appliedMigrations, type Migration } from './migrations.js'

/** Request method name of the extension protocol. */
export { ACTION_METHOD } from '../../src/shared/protocol/actions.js'

export interface ActionsPluginOptions {
  sets: readonly ActionSet[]
  /** Run each action twice and compare (Skilift's strict mode). Default: on unless NODE_ENV=production. */
  strict?: boolean
  migrations?: readonly Migration[]
}

function roomAccess(room: RoomHandle): DocAccess {
  return {
    read: async (fn) => fn(room.doc),
    edit: async (fn) => {
      const result = room.transactAsServer(fn)
      // Broadcast before answering, so the caller has the effect when the result arrives. The
      // effect carries the ledger mark (same transaction): the SDK drops the action from its
      // overlay when the effect arrives, not when the answer does (issue 21).
      await room.flush()
      return result
    },
  }
}

function parseRequest(params: unknown): ActionRequest {
  const p = params as Partial<ActionRequest> | null
  if (
    !p ||
    typeof p.client !== 'string' ||
    typeof p.seq !== 'number' ||
    !Number.isInteger(p.seq) ||
    p.seq < 1 ||
    !Array.isArray(p.path) ||
    typeof p.action !== 'string' ||
    !Array.isArray(p.args) ||
    (p.settled !== undefined && (typeof p.settled !== 'number' || !Number.isInteger(p.settled) || p.settled < 0))
  ) {
    throw new Refusal('malformed', 'action request needs { client, seq, path, action, args, settled? }')
  }
  return p as ActionRequest
}

export interface ActionsPlugin extends YroomPlugin {
  /** Runs an action as backend code on any room, loaded or not. */
  run(rooms: Rooms, room: string, path: ModelPath, action: string, args?: JsonValue[]): Promise<ActionOutcome>
}

let backendSeq = 0

/** Tells the room's events service (webhooks) how an action ended; the outcome passes through. */
async function reported(room: RoomHandle | undefined, req: ActionRequest, principal: string | null, outcome: Promise<ActionOutcome>): Promise<ActionOutcome> {
  const base = { path: req.path, action: req.action, principal }
  try {
    const out = await outcome
    if (!out.duplicate) room?.services.events?.emit('action.applied', base)
    return out
  } catch (err) {
    const reason = err instanceof ActionRefused ? err.reason : 'action-failed'
    room?.services.events?.emit('action.refused', { ...base, reason, message: (err as Error).message })
    throw err
  }
}

export function actionsPlugin(options: ActionsPluginOptions): ActionsPlugin {
  const sets = new Map(options.sets.map((s) => [s.name, s]))
  const strict = options.strict ?? process.env.NODE_ENV !== 'production'
  const migrations = options.migrations ?? []
  const backendClient = `$server:${process.pid}:${Date.now().toString(36)}`

  /** The action set name a model had before the update (`$meta.actions`). */
  function actionsBefore(model: Y.Map<unknown>, view: import('../../server/room/transaction-view.js').TransactionView): unknown {
    const metaItem = view.itemBefore(model, META_KEY)
    const meta = metaItem?.content instanceof Y.ContentType ? metaItem.content.type : null
    return meta instanceof Y.Map ? view.valueBefore(meta, ACTIONS_META_KEY) : undefined
  }

  return {
    name: 'actions',
    onLoad(room) {
      runMigrations(room, migrations)
    },
    onUpdate(ctx) {
      for (const c of ctx.view.changes) {
        if (ctx.isRejected(c)) continue
        for (let m = modelOf(c.parent); m !== null; m = parentModelOf(m)) {
          if (actionOnlySet(actionsBefore(m, ctx.view), sets)) {
            ctx.reject(c, 'action-only', 'this model changes only through its actions')
            break
          }
        }
      }
    },
    requests: {
      async [ACTION_METHOD]({ room, connection }, params) {
        const req = parseRequest(params)
        const caller = { principalId: connection.principal.id, clientID: connection.announcedClientID ?? -2 }
        try {
          const out = await reported(room, req, caller.principalId, applyAction(roomAccess(room), sets, req, caller, strict))
          return { data: out.data, duplicate: out.duplicate }
        } catch (err) {
          if (err instanceof ActionRefused) throw new Refusal(err.reason, err.message)
          throw new Refusal('action-failed', (err as Error).message)
        }
      },
    },
    run(rooms, room, path, action, args = []) {
      const req: ActionRequest = { client: backendClient, seq: ++backendSeq, path, action, args }
      const access: DocAccess = { read: (fn) => rooms.read(room, fn), edit: (fn) => rooms.edit(room, fn) }
      // Reported when the room is loaded (its plugins' services exist only then).
      return reported(rooms.get(room), req, null, applyAction(access, sets, req, { principalId: null, clientID: 0 }, strict))
    },
  }
}
