/**
 * Applying one action on the server (SPEC §8): run it on the current data, validate, write
 * the difference back as one server transaction together with the caller's ledger entry,
 * so effect and "applied" mark are stored atomically and an action id applies at most once.
 */
import * as Y from 'yjs'
import { META_KEY, ROOM_MAP } from '../../src/shared/layout.js'
import { resolvePath } from '../../src/shared/paths.js'
import { ownerOf } from '../../src/shared/model-tree.js'
import type { ModelPath } from '../../src/shared/protocol/extension.js'
import { ActionRefused, checkSchema, runAction, type ActionCaller, type ActionSet } from '../../src/shared/actions/define.js'
import { entryHas, entryOf, LEDGER_KEY, ledgerOf, withApplied } from '../../src/shared/actions/ledger.js'
import { canonical, plainOf, type JsonObject, type JsonValue } from '../../src/shared/actions/snapshot.js'

/** `$meta` field naming a model's action set. */
export const ACTIONS_META_KEY = 'actions'
/** Most applied ids kept above a client's low-water mark; beyond it new ids are refused. */
export const LEDGER_WINDOW = 1024

export interface ActionRequest {
  /** Who issued it (an SDK instance id) and its sequence number there: the action id. */
  client: string
  seq: number
  path: ModelPath
  action: string
  args: JsonValue[]
  /**
   * Optional: every id of this client up to `settled` has been answered, so the client will
   * never send it again. Lets the ledger forget refused ids (see src/shared/actions/ledger.ts).
   */
  settled?: number
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

const ledger = ledgerOf

function alreadyApplied(doc: Y.Doc, req: ActionRequest): boolean {
  return entryHas(entryOf(ledger(doc)?.get(req.client)), req.seq)
}

/** The id has not been applied; refuses it when the ledger could not record it. */
function checkRoom(doc: Y.Doc, req: ActionRequest): void {
  const e = entryOf(ledger(doc)?.get(req.client))
  if (withApplied(e, req.seq, settledOf(req)).ids.length > LEDGER_WINDOW) {
    throw new ActionRefused('ledger-full', `more than ${LEDGER_WINDOW} actions of this client are unanswered; resend the older ones first`)
  }
}

function settledOf(req: ActionRequest): number {
  return Math.min(req.settled ?? 0, req.seq - 1)
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

/** Runs the action on the current data; the schema's verdict may still be pending. */
function plan(doc: Y.Doc, sets: ReadonlyMap<string, ActionSet>, req: ActionRequest, caller: Omit<ActionCaller, 'ownerID'>, strict: boolean) {
  const model = modelAt(doc, req.path)
  const set = setOf(model, sets)
  if (!set.allow(req.action, { ...caller, ownerID: ownerOf(model) })) {
    throw new ActionRefused('not-allowed', `action '${req.action}' is not allowed on this model`)
  }
  const before = plainOf(model)
  const next = runAction(set, req.action, before, req.args, strict)
  return { model, before, next, verdict: checkSchema(set, next) }
}

/** Records the effect and the ledger entry in the current (server) transaction. */
function commit(doc: Y.Doc, model: Y.Map<unknown>, before: JsonObject, next: JsonObject, req: ActionRequest): void {
  writeBack(model, before, next)
  const room = doc.getMap(ROOM_MAP)
  let l = ledger(doc)
  if (!l) room.set(LEDGER_KEY, (l = new Y.Map<unknown>()))
  l.set(req.client, withApplied(entryOf(l.get(req.client)), req.seq, settledOf(req)))
}

export async function applyAction(
  access: DocAccess,
  sets: ReadonlyMap<string, ActionSet>,
  req: ActionRequest,
  caller: Omit<ActionCaller, 'ownerID'>,
  strict: boolean,
): Promise<ActionOutcome> {
  const current = (doc: Y.Doc) => plainOf(modelAt(doc, req.path))
  // Usual case, synchronous: run and apply in one server transaction on the latest state,
  // so actions apply in the order they arrive and never see a stale value.
  type Plan = ReturnType<typeof plan>
  const first: Partial<ActionOutcome> & { pending?: Plan } = await access.edit((doc): Partial<ActionOutcome> & { pending?: Plan } => {
    if (alreadyApplied(doc, req)) return { duplicate: true, data: current(doc) }
    checkRoom(doc, req)
    const p = plan(doc, sets, req, caller, strict)
    if (p.verdict instanceof Promise) return { pending: p }
    if (p.verdict) throw p.verdict
    commit(doc, p.model, p.before, p.next, req)
    return { duplicate: false, data: p.next }
  })
  if (first.pending === undefined) return first as ActionOutcome
  // An asynchronous schema: validate outside, apply only if the data is still what the
  // action saw (no locks; retried on the latest state).
  let pending: Plan = first.pending
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const refusal = await pending.verdict
    if (refusal) throw refusal
    const seen = pending
    const r: Partial<ActionOutcome> & { stale?: Plan } = await access.edit((doc): Partial<ActionOutcome> & { stale?: Plan } => {
      if (alreadyApplied(doc, req)) return { duplicate: true, data: current(doc) }
      const model = modelAt(doc, req.path)
      if (canonical(plainOf(model)) !== canonical(seen.before)) return { stale: plan(doc, sets, req, caller, strict) }
      commit(doc, model, seen.before, seen.next, req)
      return { duplicate: false, data: seen.next }
    })
    if (r.stale === undefined) return r as ActionOutcome
    pending = r.stale
  }
  throw new ActionRefused('contended', 'the model kept changing; try again')
}

/** True when `model` (or an ancestor model) uses an action-only set, judged on `meta`. */
export function actionOnlySet(actionsName: unknown, sets: ReadonlyMap<string, ActionSet>): boolean {
  return typeof actionsName === 'string' && sets.get(actionsName)?.actionOnly === true
}
