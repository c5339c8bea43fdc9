/**
 * Plain, frozen snapshots of a model's data for actions (SPEC §8). An action sees the
 * model's properties as JSON (everything but `$meta`; nested shared types as their JSON).
 */
import * as Y from 'yjs'
import { META_KEY } from '../layout.js'

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue }
export type JsonObject = { [key: string]: JsonValue }

/** The model's data as a fresh plain object. */
export function plainOf(model: Y.Map<unknown>): JsonObject {
  const out: JsonObject = {}
  for (const [key, value] of model.entries()) {
    if (key === META_KEY) continue
    out[key] = (value instanceof Y.AbstractType ? value.toJSON() : value) as JsonValue
  }
  return out
}

/** Freezes a value and everything in it; writing through it throws in strict-mode code. */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const v of Object.values(value as object)) deepFreeze(v)
  }
  return value
}

/** Why `value` is not plain JSON (functions, undefined, NaN, Dates, class instances…), or null. */
export function jsonProblem(value: unknown, at = 'result'): string | null {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return null
  if (typeof value === 'number') return Number.isFinite(value) ? null : `${at} is not a finite number`
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const p = jsonProblem(value[i], `${at}[${i}]`)
      if (p) return p
    }
    return null
  }
  if (typeof value === 'object') {
    const proto = Object.getPrototypeOf(value)
    if (proto !== Object.prototype && proto !== null) return `${at} is not a plain object`
    for (const [k, v] of Object.entries(value as object)) {
      const p = jsonProblem(v, `${at}.${k}`)
      if (p) return p
    }
    return null
  }
  return `${at} is ${typeof value}, not JSON`
}

/** Deterministic JSON text (sorted keys) for comparing results. */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as object).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  )
}
