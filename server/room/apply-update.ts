/**
 * The path of an incoming document update (SPEC §4):
 *   1. on arrival (admitUpdate): size limit, metadata decoded (malformed input stops here,
 *      nothing applied), `beforeUpdate` hooks may refuse it whole (identity checks);
 *   2. it waits in the room's inbox for a few milliseconds (inbox.ts);
 *   3. the waiting updates are applied in one transaction (applyBatch), each on its own:
 *      applied, judged by the `onUpdate` hooks, and what they rejected compensated before
 *      the next one is applied;
 *   4. the result is queued for storage and fan-out: the updates as received when nothing
 *      was rejected or rewritten (no re-encoding on the fast path), else the transaction's
 *      own encoding, which carries accepted parts and compensations together.
 */
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import * as authProtocol from 'y-protocols/auth'
import { encodeRejected, type RejectedChange, type RestoredRange } from '../../src/shared/protocol/extension.js'
import { MESSAGE_AUTH } from '../../src/shared/protocol/message-types.js'
import { pathOfItem } from '../../src/shared/paths.js'
import { TransactionView, type Change, type DeleteSet } from './transaction-view.js'
import { compensate, compensateAll, forward, reanchor } from './compensate.js'
import type { Connection } from '../transport/connection.js'
import type { AdmittedUpdate } from './inbox.js'
import { encodeSyncStep1 } from '../codec/sync-messages.js'
import { checkNesting } from './nesting.js'
import { checkOrigins, checkPlaced } from './origins.js'
import { ServerFault } from './message-errors.js'
import { Refusal, type UpdateContext } from '../plugin.js'
import type { Room } from './room.js'
import { MalformedUpdate, readDeleteSet, readUpdateLayout, type UpdateLayout } from '../codec/update-layout.js'

/** Transaction origin of a batch of clients' updates. */
export const CLIENTS_ORIGIN = Symbol('yroom.clients')

function readLayout(update: Uint8Array): UpdateLayout {
  try {
    return readUpdateLayout(update)
  } catch (err) {
    throw new Refusal('malformed-update', `malformed update: ${(err as Error).message}`)
  }
}

/** Transactions in which the server wrote (see asServer). */
const serverWrote = new WeakSet<Y.Transaction>()

/**
 * Marks the applying transaction as also carrying local (server) writes. Yjs treats a
 * remote transaction that advances the doc's own client id as a clientID collision and
 * silently picks a new id — which would move server writes off the id bound to the server.
 * Every applied update resets `local`, so applyBatch marks it again at the end.
 */
function asServer(tr: Y.Transaction): void {
  tr.local = true
  serverWrote.add(tr)
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
function reassertLostWrites(view: TransactionView, rejected: ReadonlySet<Change>, tr: Y.Transaction): boolean {
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

/** What happened to one update of a batch. */
interface Outcome {
  admitted: AdmittedUpdate
  rejected: RejectedChange[]
  /** Content the server re-created while handling it (told to SDK clients: undo, cursors). */
  restored: RestoredRange[]
  /** The transaction's own encoding is needed (rollback, server edit, dropped structs). */
  reencode: boolean
  resync: boolean
  /** The update (or the server while judging it) changed the document. */
  changed: boolean
  /** Applying or judging threw: the connection gets an error, as for a malformed message. */
  failed: unknown
}

/**
 * Inside the applying transaction: lets plugins judge the changes, compensates what they
 * rejected and re-asserts accepted writes that lost a tie-break to an earlier compensation.
 */
function judge(room: Room, tr: Y.Transaction, view: TransactionView, out: Outcome): void {
  const conn = out.admitted.conn
  // Created on the first rejection: most updates have none.
  let rejectedChanges: Set<Change> | null = null
  const ctx: UpdateContext = {
    room,
    connection: conn,
    doc: room.doc,
    transaction: tr,
    view,
    reject(change, reason, message) {
      rejectedChanges ??= new Set()
      if (rejectedChanges.has(change)) return
      rejectedChanges.add(change)
      out.rejected.push({ path: pathOfItem(change.item), reason, message })
    },
    isRejected: (change) => rejectedChanges !== null && rejectedChanges.has(change),
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
  const rejected: ReadonlySet<Change> = rejectedChanges ?? NONE_REJECTED
  if (rejected.size > 0) {
    asServer(tr)
    const from = Y.getState(room.doc.store, room.doc.clientID)
    compensate(room.doc, view, [...rejected], out.restored)
    room.markCompensation(from)
    out.reencode = true
  }
  if (reassertLostWrites(view, rejected, tr)) out.reencode = true
  if (forwardRedirected(room, view, rejected, tr, out.restored)) out.reencode = true
}

/**
 * Accepted writes into content whose deletion was rolled back, made before their authors
 * saw the rollback: inserts are written again into the re-created copies, deletions of the
 * originals delete the copies. Without this they would be lost (Yjs cannot undelete).
 */
function forwardRedirected(room: Room, view: TransactionView, rejected: ReadonlySet<Change>, tr: Y.Transaction, restored: RestoredRange[]): boolean {
  // Only a room where some rollback re-created content has anything to forward.
  if (!room.hasRestored && restored.length === 0) return false
  const inserts: Y.Item[] = []
  const deletes: Y.Item[] = []
  const placed: Y.Item[] = []
  for (const c of view.changes) {
    if (rejected.has(c)) continue
    if (!c.redirected) {
      if (c.kind === 'insert' && c.key === null) placed.push(c.item)
    } else if (c.kind === 'insert') inserts.push(c.item)
    else deletes.push(c.item)
  }
  if (inserts.length === 0 && deletes.length === 0 && placed.length === 0) return false
  let wrote = false
  const writing = () => {
    if (!wrote) asServer(tr)
    wrote = true
  }
  if (deletes.length > 0) {
    writing()
    for (const item of deletes) if (!item.deleted) item.delete(tr)
  }
  if (inserts.length > 0) {
    writing()
    forward(room.doc, inserts, restored)
  }
  // In the order they were integrated: a run typed after the first one follows it.
  placed.sort((a, b) => a.id.client - b.id.client || a.id.clock - b.id.clock)
  // The server's writes are marked as such at the end of the transaction (asServer): that
  // they come after the check costs nothing, and most updates have nothing to re-anchor.
  if (reanchor(room.doc, tr, placed, restored)) writing()
  return wrote
}

const NONE_REJECTED: ReadonlySet<Change> = new Set()

/** Moves the ranges of `from` into `into` (Yjs sorts and merges them at cleanup). */
function mergeDeleteSetInto(into: DeleteSet, from: DeleteSet): void {
  for (const [client, ranges] of from.clients) {
    const target = into.clients.get(client)
    if (target) for (const r of ranges) target.push(r)
    else into.clients.set(client, ranges)
  }
}

/**
 * Applies and judges one update inside the batch's open transaction. Its deletions are
 * collected in a delete set of its own (swapped into the transaction while it runs), so
 * its view sees only what this update did; they join the transaction's set afterwards.
 */
function applyOne(room: Room, tr: Y.Transaction, admitted: AdmittedUpdate, judging: boolean): Outcome {
  const { doc } = room
  const store = doc.store
  const out: Outcome = { admitted, rejected: [], restored: [], reencode: false, resync: false, changed: false, failed: null }
  const before = new Map<number, number>()
  const { structClients } = admitted.layout
  for (const client of structClients.keys()) before.set(client, Y.getState(store, client))
  const serverBefore = Y.getState(store, doc.clientID)
  before.set(doc.clientID, serverBefore)
  const batchDeletes = tr.deleteSet
  const deletes = Y.createDeleteSet()
  tr.deleteSet = deletes
  let view: TransactionView | null = null
  const against = againstState(store, admitted.layout)
  if (against === STRADDLES) {
    // Applied as is, Yjs would join the part past the server's state to whatever the
    // server holds just before it, wherever that is (see againstState): the client is
    // asked to resync instead, and sends those structs again starting at the state.
    out.resync = true
    tr.deleteSet = batchDeletes
    return out
  }
  // Yjs skips a section the server already has; as received, the update would carry it to
  // the clients, and one that does not have those clocks yet (they are in this tick) could
  // take its structs instead of the ones the server holds. The transaction's own encoding
  // carries only what was applied.
  if (against === BELOW) out.reencode = true
  try {
    checkNesting(doc, admitted.update, admitted.layout, room.ctx.options.maxNestingDepth)
    const placeAgain = checkOrigins(doc, admitted.update, admitted.layout)
    Y.applyUpdate(doc, admitted.update, admitted.conn)
    if (store.pendingStructs !== null || store.pendingDs !== null) {
      // Structs that depend on content the server does not have: never leave them to be
      // integrated later under another connection's update. Drop them; the client is
      // asked to resync (it answers with everything the server is missing).
      store.pendingStructs = null
      store.pendingDs = null
      out.resync = true
      out.reencode = true
    }
    checkIntegrated(store, structClients, before)
    if (placeAgain) checkPlaced(doc, structClients.keys(), before, admitted.layout.neighbours.length / 5)
    if (judging) {
      // Only a room where a rollback re-created content needs the update's own deletions.
      const sentDeletes = room.hasRestored && admitted.layout.deleteEntries > 0 ? readDeleteSet(admitted.update, admitted.layout) : null
      view = new TransactionView(tr, structClients, before, deletes, room.compensationItems, sentDeletes)
      judge(room, tr, view, out)
    }
  } catch (err) {
    // Once applied, a throw comes from judging: the server's fault, not the client's input.
    out.failed = view !== null && !(err instanceof Refusal) ? new ServerFault('judging this update failed; it was undone', { cause: err }) : err
    // An update is applied whole or not at all: whatever Yjs integrated before it threw
    // (or before a plugin threw while judging) is undone, judged or not.
    store.pendingStructs = null
    store.pendingDs = null
    view ??= new TransactionView(tr, structClients, before, deletes, room.compensationItems)
    const written = new Map<number, [number, number]>()
    for (const client of structClients.keys()) written.set(client, [before.get(client)!, Y.getState(store, client)])
    undoAll(room, tr, view, written, out)
  } finally {
    room.size.noteDeleted(tr, deletes)
    tr.deleteSet = batchDeletes
    mergeDeleteSetInto(batchDeletes, deletes)
  }
  out.changed = deletes.clients.size > 0 || Y.getState(store, doc.clientID) !== serverBefore
  for (const [client, clock] of before) if (!out.changed && Y.getState(store, client) !== clock) out.changed = true
  return out
}

/**
 * Applying or judging an update threw (a malformed update that Yjs integrated in part, or
 * a plugin's bug): nothing unjudged may stay, so every change it made is undone, as if
 * every one had been rejected.
 */
function undoAll(room: Room, tr: Y.Transaction, view: TransactionView, written: Map<number, [number, number]>, out: Outcome): void {
  if (!(out.failed instanceof Refusal) && !(out.failed instanceof ServerFault)) {
    room.logger.warn({ err: out.failed, room: room.name, conn: out.admitted.conn.id }, 'an update failed part way; its changes are undone')
  }
  asServer(tr)
  if (compensateAll(room.doc, view, written, out.restored)) out.reencode = true
}

/** How an update's struct sections lie against the server's state (againstState). */
const AT_OR_PAST = 0
const BELOW = 1
const STRADDLES = 2

/**
 * STRADDLES when a section of the update starts below the server's state for its client
 * and ends past it. Yjs then integrates the struct that straddles the state from the state
 * on, placing it right after the server's struct just before the state, on the assumption
 * that both are parts of one struct, which an honest client's are. A crafted update can
 * give that struct any other parent: Yjs then links it into a list it does not belong to,
 * and the server and every client each end up with a different document. Honest clients
 * rarely straddle (a sync answer computed from a state vector that has since grown); a
 * resync answers them from the current state. Else BELOW when a section lies wholly below
 * the state (Yjs skips it), else AT_OR_PAST.
 */
function againstState(store: Y.Doc['store'], layout: UpdateLayout): number {
  const { sectionClients, sectionClocks, sectionEndClocks, sectionStructs } = layout
  let against = AT_OR_PAST
  for (let i = 0; i < sectionClients.length; i++) {
    if (sectionStructs[i] === 0) continue
    const state = Y.getState(store, sectionClients[i])
    if (sectionClocks[i] >= state) continue
    // Wholly below the state: Yjs skips it. An unknown end (a non-ASCII string) counts as past.
    const end = sectionEndClocks[i]
    if (end === -1 || end > state) return STRADDLES
    against = BELOW
  }
  return against
}

/**
 * Yjs writes map values one clock long, and only the newest item under a key is not
 * deleted. A crafted update can break that (a long string as a map value, split by a
 * later item): the document then holds values Yjs cannot collect (its garbage collection
 * throws) nor judge. Such an update is malformed and undone whole. A long value is refused
 * even while it is the newest: split later (an item placed after one of its clocks, or a
 * deletion of part of it), its first part would stay, not deleted, behind the rest on the
 * server, while a late joiner, which gets the parts as two items, deletes it (deleted long
 * values are fine: Yjs itself merges a key's overwritten items).
 */
function checkIntegrated(store: Y.Doc['store'], structClients: Map<number, number>, before: Map<number, number>): void {
  for (const client of structClients.keys()) {
    const structs = store.clients.get(client)
    const from = before.get(client)!
    if (!structs || Y.getState(store, client) <= from) continue
    for (let i = Y.findIndexSS(structs, from); i < structs.length; i++) {
      const s = structs[i]
      if (!(s instanceof Y.Item)) continue
      if (s.parentSub === null || s.deleted) continue
      if ((s.parent as Y.AbstractType<any>)._map.get(s.parentSub) !== s) {
        throw new MalformedUpdate(`map value '${s.parentSub.slice(0, 40)}' is not its key's newest item`)
      }
      if (s.length > 1) throw new MalformedUpdate(`map value '${s.parentSub.slice(0, 40)}' is ${s.length} clocks long`)
    }
  }
}

/** Rejection notices (extension clients), the one-time auth message (read-only), a resync request. */
function tellAuthor(room: Room, out: Outcome): void {
  const conn = out.admitted.conn
  if (out.rejected.length > 0) {
    conn.lastRejectionAt = Date.now()
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

/** Checks made when an update arrives; a Refusal refuses it whole before anything is applied. */
export function admitUpdate(room: Room, conn: Connection, update: Uint8Array): AdmittedUpdate {
  const layout = readLayout(update)
  if (layout.subdocs > 0) throw new Refusal('unsupported-content', 'subdocuments are not supported')
  // An update that adds no structs (deletions only, or a new client's empty sync answer)
  // never grows the document: it is admitted even in a full room.
  if (layout.structClients.size > 0 && !room.size.admit(update.byteLength, () => room.applyInbox())) {
    throw new Refusal('document-too-large', `document would exceed ${room.ctx.options.maxDocumentBytes} bytes`)
  }
  for (const p of room.plugins) p.beforeUpdate?.({ room, connection: conn, update, structClients: layout.structClients })
  return { conn, update, layout }
}

/**
 * Applies admitted updates in arrival order, in one transaction, each judged on its own
 * (see inbox.ts for why they share it), then queues the result for storage and fan-out and
 * tells each author what was rejected. `onError` gets the updates that failed to apply.
 */
export function applyBatch(room: Room, batch: AdmittedUpdate[], onError: (conn: Connection, err: unknown) => void): void {
  const { doc } = room
  room.ctx.metrics.updateBatchSize.observe(batch.length)
  const judging = room.judging || batch.some((a) => a.conn.readOnly)
  const outcomes: Outcome[] = []
  let encoded: Uint8Array | null = null
  let capturing = false
  const capture = (u: Uint8Array) => {
    encoded = u
  }
  try {
    doc.transact((tr) => {
      // A connection whose update failed gets closed; its later updates are dropped, as
      // they would have been had they arrived after the close.
      const failed = new Set<Connection>()
      for (const admitted of batch) {
        if (failed.has(admitted.conn)) continue
        const out = applyOne(room, tr, admitted, judging)
        if (out.failed !== null) failed.add(admitted.conn)
        // At once: a later update of the batch may write into what this one re-created.
        room.noteRestored(out.restored)
        outcomes.push(out)
        if (out.reencode && !capturing) {
          capturing = true
          doc.on('update', capture)
        }
      }
      if (serverWrote.has(tr)) tr.local = true
    }, CLIENTS_ORIGIN)
  } finally {
    if (capturing) doc.off('update', capture)
  }
  queueResult(room, outcomes, capturing ? encoded : null)
  for (const out of outcomes) {
    if (out.failed !== null) {
      onError(out.admitted.conn, out.failed)
      continue
    }
    for (const p of room.plugins) p.afterApply?.({ room, connection: out.admitted.conn, rejected: out.rejected.length, rejections: out.rejected })
    tellAuthor(room, out)
  }
}

/**
 * Queues what the batch changed. Fast path: every update as received. When some update was
 * rewritten (rollback, server edit, dropped structs), the transaction's own encoding covers
 * the whole batch instead; offenders get it at once (a rollback does not wait for the tick),
 * the others with the tick.
 */
function queueResult(room: Room, outcomes: Outcome[], encoded: Uint8Array | null): void {
  const changed = outcomes.filter((o) => o.changed)
  if (changed.length === 0) return
  if (encoded === null) {
    for (const o of changed) if (o.failed === null) room.enqueue(o.admitted.update, [o.admitted.conn], [], o.admitted.layout)
    return
  }
  const rollbackNow = room.ctx.options.tickMs > 0
  const offenders = rollbackNow ? changed.filter((o) => o.rejected.length > 0).map((o) => o.admitted.conn) : []
  const echo = changed.filter((o) => o.reencode && !(rollbackNow && o.rejected.length > 0)).map((o) => o.admitted.conn)
  room.enqueue(encoded, changed.map((o) => o.admitted.conn), echo)
  if (offenders.length > 0) room.sendNow(offenders, encoded)
}
