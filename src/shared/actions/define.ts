/**
 * Actions (SPEC §8, the Skilift model): pure, named, deterministic functions over a model's
 * plain data, defined once and shared by client and server. The server is the one place
 * they are applied; clients run them only to show the result at once.
 *
 *   export const counter = defineActions({
 *     increment: (data: { value: number }, by: number = 1) => { data.value += by },
 *     withdraw: (data: { balance: number }, amount: number) => {
 *       if (data.balance < amount) throw new ActionRefused('insufficient-funds', 'not enough money')
 *       data.balance -= amount
 *     },
 *   }, { name: 'counter', actionOnly: true })
 */
import { canonical, jsonProblem, type JsonObject, type JsonValue } from './snapshot.js'

/** Thrown by an action to refuse; the caller's promise rejects with it, nothing is applied. */
export class ActionRefused extends Error {
  constructor(
    readonly reason: string,
    message: string = reason,
  ) {
    super(message)
    this.name = 'ActionRefused'
  }
}

/**
 * An action: mutate `data` (a private draft) and return nothing, or return the new data.
 * Must be pure and deterministic: strict mode runs it twice and compares.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type ActionFn<D extends JsonObject = any, A extends JsonValue[] = any[]> = (data: D, ...args: A) => D | void

export type ActionMap = Record<string, ActionFn>

/** A Standard Schema (https://standardschema.dev) compatible validator, e.g. a zod schema. */
export interface StandardSchema {
  readonly '~standard': {
    readonly version: 1
    readonly vendor: string
    validate(value: unknown): { value?: unknown; issues?: ReadonlyArray<{ message: string }> } | Promise<unknown>
  }
}

/** Who is calling, for `allow`. */
export interface ActionCaller {
  /** Principal id (from the server's authenticate hook), or null for backend code. */
  principalId: string | null
  /** The caller's Yjs client id, or 0 for backend code. */
  clientID: number
  /** The model's ownerID (-1 unowned, 0 server). */
  ownerID: number
}

export interface ActionSetOptions {
  /** Name under which models refer to this set (`$meta.actions`). */
  name: string
  /** Direct CRDT writes from clients to such models are rejected: actions only. */
  actionOnly?: boolean
  /** Validates the data after each action; a failing result is refused. */
  schema?: StandardSchema
  /**
   * Who may call which action. Default: anyone, unless the model is owned by another
   * client (server-owned models, ownerID 0, are open to actions: that is their point).
   */
  allow?(action: string, caller: ActionCaller): boolean
}

export interface ActionSet<M extends ActionMap = ActionMap> extends Required<Pick<ActionSetOptions, 'name' | 'actionOnly'>> {
  readonly actions: M
  readonly schema?: StandardSchema
  allow(action: string, caller: ActionCaller): boolean
}

export function defineActions<M extends ActionMap>(actions: M, options: ActionSetOptions): ActionSet<M> {
  return {
    actions,
    name: options.name,
    actionOnly: options.actionOnly ?? false,
    schema: options.schema,
    allow: options.allow ?? ((_action, c) => c.ownerID === -1 || c.ownerID === 0 || c.ownerID === c.clientID || c.clientID === 0),
  }
}

/** Runs one action on a copy of `data`; throws ActionRefused on refusal or strict-mode failure. */
export function runAction(set: ActionSet, name: string, data: JsonObject, args: JsonValue[], strict: boolean): JsonObject {
  const fn = set.actions[name]
  if (typeof fn !== 'function') throw new ActionRefused('unknown-action', `no action '${name}' in set '${set.name}'`)
  const once = (): JsonObject => {
    const draft = structuredClone(data)
    const returned = fn(draft, ...structuredClone(args))
    return (returned === undefined ? draft : returned) as JsonObject
  }
  const result = once()
  if (strict) {
    const problem = jsonProblem(result, 'data')
    if (problem) throw new ActionRefused('strict-mode', `action '${name}' is not JSON-safe: ${problem}`)
    if (canonical(once()) !== canonical(result)) {
      throw new ActionRefused('strict-mode', `action '${name}' is not deterministic: two runs on the same data differ`)
    }
  }
  if (result === null || typeof result !== 'object' || Array.isArray(result)) {
    throw new ActionRefused('invalid-result', `action '${name}' must leave an object`)
  }
  return result
}

type SchemaResult = { issues?: ReadonlyArray<{ message: string }> }

function verdictOf(r: SchemaResult): ActionRefused | null {
  return r.issues && r.issues.length > 0 ? new ActionRefused('invalid-data', r.issues.map((i) => i.message).join('; ')) : null
}

/**
 * Checks data against the set's schema: null when valid, the refusal when not, or a
 * promise of either for asynchronous schemas.
 */
export function checkSchema(set: ActionSet, data: JsonObject): ActionRefused | null | Promise<ActionRefused | null> {
  if (!set.schema) return null
  const r = set.schema['~standard'].validate(data)
  return r instanceof Promise ? r.then((x) => verdictOf(x as SchemaResult)) : verdictOf(r as SchemaResult)
}
