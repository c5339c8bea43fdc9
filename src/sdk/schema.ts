/**
 * Model schemas: a builder whose TypeScript types are inferred (no decorators, no code
 * generation). A schema lists a model's properties; `defineModel` (model.ts) turns it into
 * a model type whose instances are thin views over a Y.Map.
 *
 *   const Player = defineModel('Player', {
 *     name: prop.string('anonymous'),
 *     score: prop.number(0),
 *     avatar: prop.binary(),
 *     bio: prop.text(),
 *     position: prop.model(Vec3),
 *     items: prop.set(Item),
 *   })
 */
import type * as Y from 'yjs'
import type { RealtimeModel } from './base.js'
import type { RealtimeSet } from './collections/set.js'
import type { RealtimeDictionary } from './collections/dictionary.js'
import type { RealtimeArray } from './collections/array.js'
import type { StringKeyDictionary } from './collections/string-key-dictionary.js'

/** JSON values Yjs can store as a property (no shared types). */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json }

export type ValueKind = 'number' | 'string' | 'boolean' | 'binary' | 'json'
export type CollectionPropKind = 'set' | 'dictionary' | 'array' | 'stringKeyDictionary'

/** A property holding a plain value; `T` is its TypeScript type. */
export interface ValueProp<T> {
  readonly kind: ValueKind
  readonly default: T
  /** Runtime check applied on write. */
  readonly check: (v: unknown) => boolean
}

export interface TextProp {
  readonly kind: 'text'
}

export interface ModelProp<M extends ModelType> {
  readonly kind: 'model'
  readonly model: M
}

export interface CollectionProp<K extends CollectionPropKind, M extends ModelType> {
  readonly kind: K
  readonly model: M
}

export type Prop =
  | ValueProp<unknown>
  | TextProp
  | ModelProp<ModelType>
  | CollectionProp<CollectionPropKind, ModelType>

export type Fields = { readonly [key: string]: Prop }

/**
 * A model type made by `defineModel`. Instances are created by the SDK (datastore root,
 * collections, `instantiate`), never with `new`.
 */
export interface ModelType<F extends Fields = Fields> {
  readonly modelName: string
  readonly fields: F
  /** @internal The view class: `(datastore, binding) => instance`. */
  readonly viewClass: new (...args: never[]) => RealtimeModel
}

type ValueKeys<F extends Fields> = { [K in keyof F]: F[K] extends ValueProp<unknown> ? K : never }[keyof F]
type OtherKeys<F extends Fields> = Exclude<keyof F, ValueKeys<F>>

/** The TypeScript type a property reads as. */
export type PropValue<P> =
  P extends ValueProp<infer T>
    ? T
    : P extends TextProp
      ? Y.Text
      : P extends ModelProp<infer M>
        ? InstanceOf<M>
        : P extends CollectionProp<'set', infer M>
          ? RealtimeSet<M>
          : P extends CollectionProp<'dictionary', infer M>
            ? RealtimeDictionary<M>
            : P extends CollectionProp<'array', infer M>
              ? RealtimeArray<M>
              : P extends CollectionProp<'stringKeyDictionary', infer M>
                ? StringKeyDictionary<M>
                : never

/** Properties of an instance: plain values are writable, shared types read-only. */
export type Props<F extends Fields> = { -readonly [K in ValueKeys<F>]: PropValue<F[K]> } & {
  readonly [K in OtherKeys<F>]: PropValue<F[K]>
}

/** An instance of a model type: its properties plus the RealtimeModel API. */
export type Instance<F extends Fields> = RealtimeModel<F> & Props<F>

/** `InstanceOf<typeof Player>`: the type of a Player instance. */
export type InstanceOf<M> = M extends ModelType<infer F> ? Instance<F> : never

/** Initial values for a new model: any subset of its value properties, texts and child models. */
export type Init<F extends Fields> = {
  -readonly [K in keyof F]?: F[K] extends ValueProp<infer T>
    ? T
    : F[K] extends TextProp
      ? string
      : F[K] extends ModelProp<infer M>
        ? InitOf<M>
        : never
}
export type InitOf<M> = M extends ModelType<infer F> ? Init<F> : never

/** The names of a model's value properties (those with change events carrying a value). */
export type PropertyName<F extends Fields> = keyof F & string

const isNumber = (v: unknown) => typeof v === 'number'
const isString = (v: unknown) => typeof v === 'string'
const isBoolean = (v: unknown) => typeof v === 'boolean'
const isBinary = (v: unknown) => v === null || v instanceof Uint8Array
const isJson = (v: unknown) => v !== undefined && typeof v !== 'function' && typeof v !== 'symbol'

/** Property builders. */
export const prop = {
  number: (defaultValue = 0): ValueProp<number> => ({ kind: 'number', default: defaultValue, check: isNumber }),
  string: (defaultValue = ''): ValueProp<string> => ({ kind: 'string', default: defaultValue, check: isString }),
  boolean: (defaultValue = false): ValueProp<boolean> => ({ kind: 'boolean', default: defaultValue, check: isBoolean }),
  /** Binary data (`Uint8Array`), default null. */
  binary: (defaultValue: Uint8Array | null = null): ValueProp<Uint8Array | null> => ({
    kind: 'binary',
    default: defaultValue,
    check: isBinary,
  }),
  /** Any JSON value, written as one Yjs value (last writer wins as a whole). */
  json: <T extends Json>(defaultValue: T): ValueProp<T> => ({ kind: 'json', default: defaultValue, check: isJson }),
  /** A collaborative `Y.Text` (bind editors to it). */
  text: (): TextProp => ({ kind: 'text' }),
  /** A child model: a nested Y.Map, part of this model's hierarchy for ownership. */
  model: <M extends ModelType>(model: M): ModelProp<M> => ({ kind: 'model', model }),
  /** RealtimeSet<M>: unordered models under generated unique keys. */
  set: <M extends ModelType>(model: M): CollectionProp<'set', M> => ({ kind: 'set', model }),
  /** RealtimeDictionary<M>: models under unsigned integer keys. */
  dictionary: <M extends ModelType>(model: M): CollectionProp<'dictionary', M> => ({ kind: 'dictionary', model }),
  /** RealtimeArray<M>: append-only list of models. */
  array: <M extends ModelType>(model: M): CollectionProp<'array', M> => ({ kind: 'array', model }),
  /** StringKeyDictionary<M>: string keys, changed only through server-confirmed requests. */
  stringKeyDictionary: <M extends ModelType>(model: M): CollectionProp<'stringKeyDictionary', M> => ({
    kind: 'stringKeyDictionary',
    model,
  }),
}

export function isValueProp(p: Prop): p is ValueProp<unknown> {
  return p.kind === 'number' || p.kind === 'string' || p.kind === 'boolean' || p.kind === 'binary' || p.kind === 'json'
}

export function isCollectionProp(p: Prop): p is CollectionProp<CollectionPropKind, ModelType> {
  return p.kind === 'set' || p.kind === 'dictionary' || p.kind === 'array' || p.kind === 'stringKeyDictionary'
}
