/**
 * Decodes one incoming WebSocket message and routes it (SPEC §7). Every byte from the
 * network is untrusted: anything malformed closes only this connection, with a reason.
 */
import * as decoding from 'lib0/decoding'
import * as syncProtocol from 'y-protocols/sync'
import {
  MESSAGE_AUTH,
  MESSAGE_AWARENESS,
  MESSAGE_QUERY_AWARENESS,
  MESSAGE_SYNC,
  MESSAGE_YROOM,
} from '../../src/shared/protocol/message-types.js'
import {
  decodeExtension,
  encodeResponse,
  encodeWelcome,
  ExtKind,
  PROTOCOL_VERSION,
  type Request,
} from '../../src/shared/protocol/extension.js'
import { admitUpdate } from './apply-update.js'
import { handleAwareness } from './awareness.js'
import type { Connection } from '../transport/connection.js'
import { Refusal } from '../plugin.js'
import { encodeAwarenessChunks, encodeSyncStep2, readStateVector } from '../codec/sync-messages.js'
import { failMessage } from './message-errors.js'
import type { Room } from './room.js'

export function handleMessage(room: Room, conn: Connection, data: Uint8Array): void {
  room.ctx.metrics.bytesIn.inc(data.byteLength)
  try {
    const decoder = decoding.createDecoder(data)
    const type = decoding.readVarUint(decoder)
    switch (type) {
      case MESSAGE_SYNC:
        handleSync(room, conn, decoder)
        break
      case MESSAGE_AWARENESS:
        handleAwareness(room, conn, decoding.readVarUint8Array(decoder))
        break
      case MESSAGE_QUERY_AWARENESS:
        for (const m of encodeAwarenessChunks(room.awareness, [...room.awareness.getStates().keys()])) conn.send(m)
        break
      case MESSAGE_AUTH:
        // Clients have nothing to say on this channel; tolerated and ignored.
        break
      case MESSAGE_YROOM:
        handleExtension(room, conn, decoder)
        break
      default:
        throw new Refusal('unknown-message', `unknown message type ${type}`)
    }
    room.flushSoon()
  } catch (err) {
    failMessage(room, conn, err)
  }
}

/**
 * Sync answers per connection. An answer can be the whole document, encoded for this one
 * client: a client asks once per connection, so a few are allowed in a burst and then one
 * every few seconds; more is abuse (1008), not a way to make the server encode the document
 * over and over.
 */
const syncAnswers = {
  burst: 5,
  everyMs: 5000,
  budgets: new WeakMap<Connection, { tokens: number; at: number }>(),
  take(conn: Connection): boolean {
    const now = Date.now()
    const b = this.budgets.get(conn) ?? { tokens: this.burst, at: now }
    b.tokens = Math.min(this.burst, b.tokens + (now - b.at) / this.everyMs)
    b.at = now
    this.budgets.set(conn, b)
    if (b.tokens < 1) return false
    b.tokens -= 1
    return true
  },
}

function handleSync(room: Room, conn: Connection, decoder: decoding.Decoder): void {
  const syncType = decoding.readVarUint(decoder)
  switch (syncType) {
    case syncProtocol.messageYjsSyncStep1: {
      // Decoded now, before anything asynchronous: a malformed state vector is this
      // message's error (1002), never a failure inside a later promise.
      const stateVector = readStateVector(decoding.readVarUint8Array(decoder))
      if (!syncAnswers.take(conn)) throw new Refusal('sync-rate', 'too many sync requests')
      const reply = () => {
        if (conn.closed) return
        conn.send(encodeSyncStep2(room.doc, stateVector))
      }
      // Nothing reaches a client before it is stored (SPEC §6): with updates still waiting
      // for this tick's write, answer once they are written.
      const stored = room.whenStored()
      if (stored) void stored.then(reply).catch((err: unknown) => failMessage(room, conn, err))
      else reply()
      break
    }
    case syncProtocol.messageYjsSyncStep2:
    case syncProtocol.messageYjsUpdate: {
      const update = decoding.readVarUint8Array(decoder)
      room.ctx.metrics.updatesIn.inc()
      room.submit(admitUpdate(room, conn, update))
      conn.refusals = 0
      break
    }
    default:
      throw new Refusal('malformed', `unknown sync message type ${syncType}`)
  }
}

function handleExtension(room: Room, conn: Connection, decoder: decoding.Decoder): void {
  const msg = decodeExtension(decoder)
  // Hooks and requests see every update this connection sent before (arrival order).
  room.applyInbox()
  switch (msg.kind) {
    case ExtKind.HELLO:
      if (conn.helloed) throw new Refusal('malformed', 'hello sent twice')
      conn.helloed = true
      conn.announcedClientID = msg.body.clientID
      for (const p of room.plugins) p.onHello?.({ room, connection: conn, clientID: msg.body.clientID })
      conn.send(
        encodeWelcome({
          version: PROTOCOL_VERSION,
          clientID: msg.body.clientID,
          connectionId: conn.id,
          serverTime: Date.now(),
          room: room.name,
        }),
      )
      break
    case ExtKind.REQUEST:
      void handleRequest(room, conn, msg.body)
      break
    default:
      throw new Refusal('malformed', `clients may not send extension kind ${msg.kind}`)
  }
}

async function handleRequest(room: Room, conn: Connection, req: Request): Promise<void> {
  // Own properties only: a method named like one of Object.prototype's ('__proto__',
  // 'constructor') must not find it.
  const handler = room.plugins.map((p) => p.requests).find((r) => r !== undefined && Object.hasOwn(r, req.method))?.[req.method]
  try {
    if (typeof handler !== 'function') throw new Refusal('unknown-method', `no handler for request method '${req.method}'`)
    const result = await handler({ room, connection: conn }, req.params)
    conn.sendExtension(encodeResponse({ id: req.id, ok: true, result }))
  } catch (err) {
    const reason = err instanceof Refusal ? err.code : 'internal-error'
    if (!(err instanceof Refusal)) room.logger.error({ err, room: room.name, method: req.method }, 'request handler failed')
    conn.sendExtension(encodeResponse({ id: req.id, ok: false, result: { reason, message: (err as Error).message } }))
  }
  room.flushSoon()
}
