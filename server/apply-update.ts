/**
 * The path of one incoming document update (SPEC §4):
 *   1. decode its metadata (malformed input stops here, nothing applied);
 *   2. `beforeUpdate` hooks may refuse it whole (identity checks);
 *   3. apply it inside one transaction, let `onUpdate` hooks judge its changes, and
 *      compensate what they rejected in that same transaction;
 *   4. queue the result for storage and fan-out: the update as received when nothing was
 *      rejected (no re-encoding on the fast path), else the transaction's own encoding,
 *      which carries accepted part and compensation together.
 */
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import * as authProtocol from 'y-protocols/auth'
import { encodeRejected, type RejectedChange } from '../src/protocol/extension.js'
import { MESSAGE_AUTH } from '../src/protocol/message-types.js'
import { pathOfItem } from '../src/paths.js'
import { TransactionView, type Change } from './changes.js'
import { compensate } from './compensate.js'
import type { Connection } from './connection.js'
import { Refusal, type UpdateContext } from './plugin.js'
import { encodeSyncStep1, type Room } from './room.js'

export interface ApplyResult {
  /** Changes rejected and compensated. */
  rejected: RejectedChange[]
  /** Part of the update depended on structs the server lacks; the client was asked to resync. */
  resync: boolean
}

function readMeta(update: Uint8Array): Map<number, number> {
  try {
    return Y.parseUpdateMeta(update).from
  } catch (err) {
    throw new Refusal('malformed-update', `malformed update: ${(err as Error).message}`)
  }
}

function stateChanged(tr: Y.Transaction): boolean {
  if (tr.deleteSet.clients.size > 0) return true
  for (const [client, clock] of tr.afterState) if (tr.beforeState.get(client) !== clock) return true
  return false
}

/**
 * Marks the applying transaction as also carrying local (server) writes. Yjs treats a
 * remote transaction that advances the doc's own client id as a clientID collision and
 * silently picks a new id — which would move server writes off the id bound to the server.
 */
function asServer(tr: Y.Transaction): void {
  tr.local = true
}

/** The value a map item holds, when the server can write it again (not a shared type). */
function plainValue(item: Y.Item): { value: unknown } | null {
  const c = item.content
  if (c instanceof Y.ContentAny) return { value: c.getContent()[c.getLength() - 1] }
  if (c instanceof Y.ContentBinary) return { value: c.content }
  if (c instanceof Y.ContentString) return { value: c.str }
  return null
}

/**
 * A compensation must never undo an accepted change. It re-creates the value a rejected
 * write replaced, as a new item; an allowed writer who set the same key before receiving it
 * made a concurrent write, and Yjs's tie-break may keep the compensation instead. Such a
 * write, once accepted, is written again by the server so every replica ends with it.
 */
function reassertLostWrites(view: TransactionView, rejected: Set<Change>, tr: Y.Transaction): boolean {
  let wrote = false
  for (const c of view.changes) {
    if (c.kind !== 'insert' || !c.lostTo || rejected.has(c) || c.key === null) continue
    const v = plainValue(c.item)
    if (v === null) continue
    asServer(tr)
    ;(c.parent as Y.Map<unknown>).set(c.key, v.value)
    wrote = true
  }
  return wrote
}

/** What happened inside the applying transaction. */
interface Outcome {
  rejected: RejectedChange[]
  /** The transaction's own encoding is needed (rollback, server edit, dropped structs). */
  reencode: boolean
  resync: boolean
}

/**
 * Inside the applying transaction: lets plugins judge the changes, compensates what they
 * rejected and re-asserts accepted writes that lost a tie-break to an earlier compensation.
 */
function judge(room: Room, conn: Connection, tr: Y.Transaction, structClients: Map<number, number>, out: Outcome): void {
  const rejectedChanges = new Set<Change>()
  const view = new TransactionView(tr, structClients, (item) => room.compensationItems.has(item))
  const ctx: UpdateContext = {
    room,
    connection: conn,
    doc: room.doc,
    transaction: tr,
    view,
    reject(change, reason, message) {
      if (rejectedChanges.has(change)) return
      rejectedChanges.add(change)
      out.rejected.push({ path: pathOfItem(change.item), reason, message })
    },
    isRejected: (change) => rejectedChanges.has(change),
    serverEdit(fn) {
      out.reencode = true
      asServer(tr)
      fn()
    },
  }
  if (conn.readOnly) {
    for (const c of view.changes) ctx.reject(c, 'read-only', 'this connection is read-only')
  }
  for (const p of room.plugins) p.onUpdate?.(ctx)
  if (rejectedChanges.size > 0) {
    asServer(tr)
    const from = Y.getState(room.doc.store, room.doc.clientID)
    compensate(room.doc, view, [...rejectedChanges])
    room.markCompensation(from)
    out.reencode = true
  }
  if (reassertLostWrites(view, rejectedChanges, tr)) out.reencode = true
}

/** Rejection notices (extension clients), the one-time auth message (read-only), a resync request. */
function tellAuthor(room: Room, conn: Connection, out: Outcome): void {
  if (out.rejected.length > 0) {
    for (const r of out.rejected) room.ctx.metrics.rejectedChanges.inc({ reason: r.reason })
    conn.sendExtension(encodeRejected(out.rejected))
    if (conn.readOnly && !conn.permissionDeniedSent) {
      conn.permissionDeniedSent = true
      const enc = encoding.createEncoder()
      encoding.writeVarUint(enc, MESSAGE_AUTH)
      authProtocol.writePermissionDenied(enc, 'read-only connection: changes are rolled back')
      conn.send(encoding.toUint8Array(enc))
    }
  }
  if (out.resync) conn.send(encodeSyncStep1(room.doc))
}

/** Applies an update from `conn` to `room`. Throws a Refusal when the update is refused whole. */
export function applyClientUpdate(room: Room, conn: Connection, update: Uint8Array): ApplyResult {
  const { doc, plugins } = room
  if (room.storedBytes + update.byteLength > room.ctx.options.maxDocumentBytes) {
    throw new Refusal('document-too-large', `document would exceed ${room.ctx.options.maxDocumentBytes} bytes`)
  }
  const structClients = readMeta(update)
  for (const p of plugins) p.beforeUpdate?.({ room, connection: conn, update, structClients })

  const out: Outcome = { rejected: [], reencode: false, resync: false }
  let encoded: Uint8Array | null = null
  let transaction: Y.Transaction | null = null
  const capture = (u: Uint8Array) => {
    encoded = u
  }
  const judging = conn.readOnly || plugins.some((p) => p.onUpdate)
  try {
    doc.transact((tr) => {
      transaction = tr
      Y.applyUpdate(doc, update, conn)
      if (doc.store.pendingStructs !== null || doc.store.pendingDs !== null) {
        // Structs that depend on content the server does not have: never leave them to be
        // integrated later under another connection's update. Drop them; the client is
        // asked to resync (it answers with everything the server is missing).
        doc.store.pendingStructs = null
        doc.store.pendingDs = null
        out.resync = true
        out.reencode = true
      }
      if (judging) judge(room, conn, tr, structClients, out)
      if (out.reencode) doc.on('update', capture)
    }, conn)
  } finally {
    doc.off('update', capture)
  }

  const tr = transaction as Y.Transaction | null
  const payload = out.reencode ? (encoded as Uint8Array | null) : update
  if (tr !== null && stateChanged(tr) && payload !== null) {
    // The author gets a rollback at once, not at the next tick; a transformation with the tick.
    const rollback = out.rejected.length > 0 && room.ctx.options.tickMs > 0
    room.enqueue(payload, conn, out.reencode && !rollback)
    if (rollback) room.sendNow(conn, payload)
  }
  for (const p of plugins) p.afterApply?.({ room, connection: conn, rejected: out.rejected.length })
  tellAuthor(room, conn, out)
  return { rejected: out.rejected, resync: out.resync }
}
