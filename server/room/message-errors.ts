/**
 * What a connection gets when one of its messages fails: a refusal (a clear error, and a
 * close for protocol errors or persistent offence) or, for anything malformed, an error and
 * a protocol-error close. Only that connection is affected; the room carries on.
 */
import { CloseCode } from '../../src/shared/protocol/close-codes.js'
import type { Connection } from '../transport/connection.js'
import { Refusal } from '../plugin.js'
import type { Room } from './room.js'

/** After this many refused updates in a row, the connection is closed (SPEC §3). */
const MAX_CONSECUTIVE_REFUSALS = 8

/** The server failed on a connection's message (a plugin's bug, not the client's input): 1011. */
export class ServerFault extends Error {
  constructor(message: string, options: { cause: unknown }) {
    super(message, options)
    this.name = 'ServerFault'
  }
}

export function failMessage(room: Room, conn: Connection, err: unknown): void {
  if (err instanceof Refusal) {
    refuse(room, conn, err)
    return
  }
  if (err instanceof ServerFault) {
    room.ctx.metrics.rejectedMessages.inc({ reason: 'internal-error' })
    room.logger.error({ room: room.name, conn: conn.id, err: err.cause }, err.message)
    conn.sendError('internal-error', err.message)
    conn.close(CloseCode.INTERNAL_ERROR, err.message)
    return
  }
  const message = err instanceof Error ? err.message : String(err)
  room.ctx.metrics.rejectedMessages.inc({ reason: 'malformed' })
  room.logger.warn({ room: room.name, conn: conn.id, err: message }, 'malformed message')
  conn.sendError('malformed', `malformed message: ${message}`)
  conn.close(CloseCode.PROTOCOL_ERROR, `malformed message: ${message}`)
}

/** Whole-message refusals: tell the client; close on protocol errors or persistent offence. */
function refuse(room: Room, conn: Connection, err: Refusal): void {
  room.ctx.metrics.rejectedMessages.inc({ reason: err.code })
  room.logger.warn({ room: room.name, conn: conn.id, code: err.code, msg: err.message }, 'message refused')
  conn.sendError(err.code, err.message)
  if (err.code === 'malformed-update' || err.code === 'unknown-message' || err.code === 'malformed') {
    conn.close(CloseCode.PROTOCOL_ERROR, err.message)
  } else if (err.code === 'document-too-large') {
    conn.close(CloseCode.DOCUMENT_TOO_LARGE, err.message)
  } else if (err.code === 'sync-rate') {
    conn.close(CloseCode.POLICY_VIOLATION, err.message)
  } else if (err.code === 'nesting-too-deep' || err.code === 'unsupported-content') {
    conn.close(CloseCode.UNPROCESSABLE, err.message)
  } else if (++conn.refusals >= MAX_CONSECUTIVE_REFUSALS) {
    conn.close(CloseCode.POLICY_VIOLATION, `too many refused updates: ${err.message}`)
  }
}
