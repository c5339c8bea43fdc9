/**
 * Applying one action on the server (SPEC §8): run it on the current data, validate, write
 * the difference back as one server transaction together with the caller's ledger entry,
 * so effect and "applied" mark are stored atomically and an action id applies at most once.
 */
import * as Y from 'yjs'
import { META_KEY, OWNER_ID, ROOM_MAP, UNOWNED } from '../../src/layout.js'
import { resolvePath } from '../../src/paths.js'
import type { ModelPath } from '../../src/protocol/extension.js'
import { ActionRefused, runAction, validate, type ActionCaller, type ActionSet } from '../../src/actions/define.js'
import { canonical, plainOf, type JsonObject, type JsonValue } from '../../src/actions/snapshot.js'

/** `$meta` field naming a model's action set. */
export const ACTIONS_META_KEY = 'actions'
/** Key in `$room` of the ledger: action client id → last applied sequence number. */
const LEDGER_KEY = 'actions'

export interface ActionRequest {
  /** Who issued it (an SDK instance id) and its sequence number there: the action id. */
  client: string
  seq: number
  path: ModelPath
  action: string
  args: JsonValue[]
}

/** Reads and edits one room's document, loaded or not. */
export interface DocAccess {
  read<T>(fn: (doc: Y.Doc) => T): Promise<T>
  edit<T>(fn: (doc: Y.Doc) => T): Promise<T>
}

export interface ActionOutcome {
  data: JsonObject
  /** True when this action id had been applied before (a resend): nothing was applied now. */
  duplicate: boolean
}

function modelAt(doc: Y.Doc, path: ModelPath): Y.Map<unknown> {
  const m = resolvePath(doc, path)
  if (!(m instanceof Y.Map)) throw new ActionRefused('no-model', `no model at ${JSON.stringify(path)}`)
  return m as Y.Map<unknown>
}

function setOf(model: Y.Map<unknown>, sets: ReadonlyMap<string, ActionSet>): ActionSet {
  const meta = model.get(META_KEY)
  const name = meta instanceof Y.Map ? meta.get(ACTIONS_META_KEY) : undefined
  const set = typeof name === 'string' ? sets.get(name) : undefined
  if (!set) throw new ActionRefused('no-actions', `the model has no registered action set (${String(name)})`)
  return set
}

function ownerOf(model: Y.Map<unknown>): number {
  const meta = model.get(META_KEY)
  const owner = meta instanceof Y.Map ? meta.get(OWNER_ID) : undefined
  return typeof owner === 'number' ? owner : UNOWNED
}

function ledger(doc: Y.Doc): Y.Map<number> | undefined {
  const l = doc.getMap(ROOM_MAP).get(LEDGER_KEY)
  return l instanceof Y.Map ? (l as Y.Map<number>) : undefined
}

function alreadyApplied(doc: Y.Doc, req: ActionRequest): boolean {
  return (ledger(doc)?.get(req.client) ?? 0) >= req.seq
}

/** Writes `next` over the model's data: only the properties that differ. */
function writeBack(model: Y.Map<unknown>, before: JsonObject, next: JsonObject): void {
  for (const key of Object.keys(before)) if (!(key in next)) model.delete(key)
  for (const [key, value] of Object.entries(next)) {
    if (key === META_KEY) continue
    if (!(key in before) || canonical(before[key]) !== canonical(value)) model.set(key, value)
  }
}

const MAX_ATTEMPTS = 5

export async function applyAction(
  access: DocAccess,
  sets: ReadonlyMap<string, ActionSet>,
  req: ActionRequest,
  caller: Omit<ActionCaller, 'ownerID'>,
  strict: boolean,
): Promise<ActionOutcome> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    // Compute outside the transaction (validation may be async), then apply only if the
    // data is still what the action saw: no locks, just a retry on the latest state.
    const plan = await access.read((doc) => {
      if (alreadyApplied(doc, req)) return null
      const model = modelAt(doc, req.path)
      const set = setOf(model, sets)
      if (!set.allow(req.action, { ...caller, ownerID: ownerOf(model) })) {
        throw new ActionRefused('not-allowed', `action '${req.action}' is not allowed on this model`)
      }
      const before = plainOf(model)
      return { set, before, next: runAction(set, req.action, before, req.args, strict) }
    })
    if (plan === null) return { data: await access.read((doc) => plainOf(modelAt(doc, req.path))), duplicate: true }
    await validate(plan.set, plan.next)
    const applied = await access.edit((doc) => {
      if (alreadyApplied(doc, req)) return 'duplicate' as const
      const model = modelAt(doc, req.path)
      if (canonical(plainOf(model)) !== canonical(plan.before)) return 'stale' as const
      writeBack(model, plan.before, plan.next)
      const room = doc.getMap(ROOM_MAP)
      let l = ledger(doc)
      if (!l) room.set(LEDGER_KEY, (l = new Y.Map<number>()))
      l.set(req.client, req.seq)
      return 'ok' as const
    })
    if (applied === 'ok') return { data: plan.next, duplicate: false }
    if (applied === 'duplicate') return { data: await access.read((doc) => plainOf(modelAt(doc, req.path))), duplicate: true }
  }
  throw new ActionRefused('contended', 'the model kept changing; try again')
}

/** True when `model` (or an ancestor model) uses an action-only set, judged on `meta`. */
export function actionOnlySet(actionsName: unknown, sets: ReadonlyMap<string, ActionSet>): boolean {
  return typeof actionsName === 'string' && sets.get(actionsName)?.actionOnly === true
}
