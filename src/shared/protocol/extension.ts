/**
 * yroom extension protocol (SPEC §7): one top-level message type, MESSAGE_YROOM, whose
 * payload is `varUint(kind)` and a kind-specific body. Shared by the server and the SDK so
 * encode and decode live in exactly one place.
 *
 * A client opts in by sending HELLO; until then the server sends it no extension message.
 */
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import { MESSAGE_YROOM } from './message-types.js'
import { readAnyChecked } from './any-value.js'

export const PROTOCOL_VERSION = 1

export const ExtKind = {
  HELLO: 0,
  WELCOME: 1,
  REJECTED: 2,
  ERROR: 3,
  REQUEST: 4,
  RESPONSE: 5,
  RESTORED: 6,
  /** Server to client: the connection's token expired; send a new one (TOKEN) within `graceMs`. */
  REFRESH_TOKEN: 7,
  /** Client to server: a new token for this connection, on REFRESH_TOKEN or at any time. */
  TOKEN: 8,
} as const

/** A path from the document root to a model or property: root name, then keys / indexes. */
export type ModelPath = Array<string | number>

export interface Hello {
  version: number
  /** The Yjs clientID the client will write under (bound to this connection). */
  clientID: number
}

export interface Welcome {
  version: number
  /** The client's Yjs id as the server has bound it. */
  clientID: number
  /** Server-assigned id of this connection. */
  connectionId: number
  /** Server time in ms since the epoch, for clock offset estimation. */
  serverTime: number
  room: string
}

export interface RejectedChange {
  /** Path of the model or property whose change was refused. */
  path: ModelPath
  /** Machine-readable reason, e.g. 'owned-by-another'. */
  reason: string
  /** Human-readable explanation. */
  message: string
}

export interface ErrorNotice {
  code: string
  message: string
}

/** A JSON-like value as lib0's `writeAny` encodes it (Uint8Array allowed). */
export type AnyValue =
  | null
  | undefined
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | AnyValue[]
  | { [key: string]: AnyValue }

/**
 * Content the server re-created (a rollback of a deletion, or an owner's write forwarded
 * into re-created content): the items `length` clocks from (client, clock) now live on as
 * the items from (toClient, toClock). A client sets Yjs's `item.redone` from it, which
 * `Y.UndoManager` and relative positions already follow.
 */
export interface RestoredRange {
  client: number
  clock: number
  length: number
  toClient: number
  toClock: number
}

export interface Request {
  id: number
  method: string
  params: AnyValue
}

export interface Response {
  id: number
  ok: boolean
  /** The result when ok, else `{ reason, message }`. */
  result: AnyValue
}

export interface RefreshToken {
  /** When the token expired, ms since the epoch (server time). */
  expiresAt: number
  /** The connection is closed (4419) if no valid new token arrives within this many ms. */
  graceMs: number
}

export interface TokenBody {
  token: string
}

export type ExtMessage =
  | { kind: typeof ExtKind.HELLO; body: Hello }
  | { kind: typeof ExtKind.WELCOME; body: Welcome }
  | { kind: typeof ExtKind.REJECTED; body: { changes: RejectedChange[] } }
  | { kind: typeof ExtKind.ERROR; body: ErrorNotice }
  | { kind: typeof ExtKind.REQUEST; body: Request }
  | { kind: typeof ExtKind.RESPONSE; body: Response }
  | { kind: typeof ExtKind.RESTORED; body: { ranges: RestoredRange[] } }
  | { kind: typeof ExtKind.REFRESH_TOKEN; body: RefreshToken }
  | { kind: typeof ExtKind.TOKEN; body: TokenBody }

function header(kind: number): encoding.Encoder {
  const enc = encoding.createEncoder()
  encoding.writeVarUint(enc, MESSAGE_YROOM)
  encoding.writeVarUint(enc, kind)
  return enc
}

export function encodeHello(body: Hello): Uint8Array {
  const enc = header(ExtKind.HELLO)
  encoding.writeAny(enc, { version: body.version, clientID: body.clientID })
  return encoding.toUint8Array(enc)
}

export function encodeWelcome(body: Welcome): Uint8Array {
  const enc = header(ExtKind.WELCOME)
  encoding.writeAny(enc, { ...body })
  return encoding.toUint8Array(enc)
}

export function encodeRejected(changes: RejectedChange[]): Uint8Array {
  const enc = header(ExtKind.REJECTED)
  encoding.writeAny(enc, { changes: changes.map((c) => ({ path: c.path, reason: c.reason, message: c.message })) })
  return encoding.toUint8Array(enc)
}

export function encodeError(body: ErrorNotice): Uint8Array {
  const enc = header(ExtKind.ERROR)
  encoding.writeAny(enc, { code: body.code, message: body.message })
  return encoding.toUint8Array(enc)
}

export function encodeRequest(body: Request): Uint8Array {
  const enc = header(ExtKind.REQUEST)
  encoding.writeVarUint(enc, body.id)
  encoding.writeVarString(enc, body.method)
  encoding.writeAny(enc, body.params as never)
  return encoding.toUint8Array(enc)
}

export function encodeResponse(body: Response): Uint8Array {
  const enc = header(ExtKind.RESPONSE)
  encoding.writeVarUint(enc, body.id)
  encoding.writeUint8(enc, body.ok ? 1 : 0)
  encoding.writeAny(enc, body.result as never)
  return encoding.toUint8Array(enc)
}

/** Five varUints per range: a rollback can restore thousands of items. */
export function encodeRestored(ranges: readonly RestoredRange[]): Uint8Array {
  const enc = header(ExtKind.RESTORED)
  encoding.writeVarUint(enc, ranges.length)
  for (const r of ranges) {
    encoding.writeVarUint(enc, r.client)
    encoding.writeVarUint(enc, r.clock)
    encoding.writeVarUint(enc, r.length)
    encoding.writeVarUint(enc, r.toClient)
    encoding.writeVarUint(enc, r.toClock)
  }
  return encoding.toUint8Array(enc)
}

export function encodeRefreshToken(body: RefreshToken): Uint8Array {
  const enc = header(ExtKind.REFRESH_TOKEN)
  encoding.writeAny(enc, { expiresAt: body.expiresAt, graceMs: body.graceMs })
  return encoding.toUint8Array(enc)
}

export function encodeToken(body: TokenBody): Uint8Array {
  const enc = header(ExtKind.TOKEN)
  encoding.writeAny(enc, { token: body.token })
  return encoding.toUint8Array(enc)
}

/**
 * True when `bytes` is a TOKEN message (both varUints are single bytes): the server reads
 * these before any room sees the message.
 */
export function isTokenMessage(bytes: Uint8Array): boolean {
  return bytes.byteLength > 2 && bytes[0] === MESSAGE_YROOM && bytes[1] === ExtKind.TOKEN
}

/** True when `bytes` is a HELLO message. */
export function isHelloMessage(bytes: Uint8Array): boolean {
  return bytes.byteLength > 2 && bytes[0] === MESSAGE_YROOM && bytes[1] === ExtKind.HELLO
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array)
}

function num(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new TypeError(`extension message: ${field} must be a number`)
  return v
}

function str(v: unknown, field: string): string {
  if (typeof v !== 'string') throw new TypeError(`extension message: ${field} must be a string`)
  return v
}

function pathOf(v: unknown): ModelPath {
  if (!Array.isArray(v) || !v.every((p) => typeof p === 'string' || typeof p === 'number')) {
    throw new TypeError('extension message: path must be an array of strings and numbers')
  }
  return v as ModelPath
}

/**
 * Decodes the body of an extension message; `decoder` is positioned after MESSAGE_YROOM.
 * Throws a TypeError on malformed input (the caller turns it into an error for the peer).
 */
export function decodeExtension(decoder: decoding.Decoder): ExtMessage {
  const kind = decoding.readVarUint(decoder)
  switch (kind) {
    case ExtKind.HELLO: {
      const b = readAnyChecked(decoder)
      if (!isRecord(b)) throw new TypeError('extension message: hello body must be an object')
      return { kind, body: { version: num(b.version, 'version'), clientID: num(b.clientID, 'clientID') } }
    }
    case ExtKind.WELCOME: {
      const b = readAnyChecked(decoder)
      if (!isRecord(b)) throw new TypeError('extension message: welcome body must be an object')
      return {
        kind,
        body: {
          version: num(b.version, 'version'),
          clientID: num(b.clientID, 'clientID'),
          connectionId: num(b.connectionId, 'connectionId'),
          serverTime: num(b.serverTime, 'serverTime'),
          room: str(b.room, 'room'),
        },
      }
    }
    case ExtKind.REJECTED: {
      const b = readAnyChecked(decoder)
      if (!isRecord(b) || !Array.isArray(b.changes)) throw new TypeError('extension message: rejected body must list changes')
      const changes = b.changes.map((c: unknown) => {
        if (!isRecord(c)) throw new TypeError('extension message: rejected change must be an object')
        return { path: pathOf(c.path), reason: str(c.reason, 'reason'), message: str(c.message, 'message') }
      })
      return { kind, body: { changes } }
    }
    case ExtKind.ERROR: {
      const b = readAnyChecked(decoder)
      if (!isRecord(b)) throw new TypeError('extension message: error body must be an object')
      return { kind, body: { code: str(b.code, 'code'), message: str(b.message, 'message') } }
    }
    case ExtKind.REQUEST: {
      const id = decoding.readVarUint(decoder)
      const method = decoding.readVarString(decoder)
      const params = readAnyChecked(decoder) as AnyValue
      return { kind, body: { id, method, params } }
    }
    case ExtKind.RESPONSE: {
      const id = decoding.readVarUint(decoder)
      const ok = decoding.readUint8(decoder) === 1
      const result = readAnyChecked(decoder) as AnyValue
      return { kind, body: { id, ok, result } }
    }
    case ExtKind.RESTORED: {
      const n = decoding.readVarUint(decoder)
      // Each range takes at least five bytes: a count past what is left is malformed.
      if (n * 5 > decoder.arr.length - decoder.pos) throw new TypeError('extension message: restored ranges truncated')
      const ranges: RestoredRange[] = []
      for (let i = 0; i < n; i++) {
        const client = decoding.readVarUint(decoder)
        const clock = decoding.readVarUint(decoder)
        const length = decoding.readVarUint(decoder)
        ranges.push({ client, clock, length, toClient: decoding.readVarUint(decoder), toClock: decoding.readVarUint(decoder) })
      }
      return { kind, body: { ranges } }
    }
    case ExtKind.REFRESH_TOKEN: {
      const b = readAnyChecked(decoder)
      if (!isRecord(b)) throw new TypeError('extension message: refresh-token body must be an object')
      return { kind, body: { expiresAt: num(b.expiresAt, 'expiresAt'), graceMs: num(b.graceMs, 'graceMs') } }
    }
    case ExtKind.TOKEN: {
      const b = readAnyChecked(decoder)
      if (!isRecord(b)) throw new TypeError('extension message: token body must be an object')
      return { kind, body: { token: str(b.token, 'token') } }
    }
    default:
      throw new TypeError(`extension message: unknown kind ${kind}`)
  }
}
