/**
 * Incoming awareness (SPEC §3, §12): which of a message's entries a connection may publish.
 *
 * Plugins drop entries under ids the connection may not speak for (the authority plugin:
 * ids bound to someone else). The core then caps how many distinct ids one connection
 * publishes under in its lifetime (`maxAwarenessIdsPerConnection`): a stock client uses one,
 * and the ids it relays for others belong to their own connections. Without the cap, a
 * client could fill the room's awareness (and every client's) with fresh ids.
 */
import * as awarenessProtocol from 'y-protocols/awareness'
import { encodeAwarenessEntries, readAwarenessEntries } from '../../src/shared/protocol/awareness-ids.js'
import type { Connection } from '../transport/connection.js'
import type { Room } from './room.js'

/** Every id each connection has published under (at most the cap). */
const usedIds = new WeakMap<Connection, Set<number>>()

function usedBy(conn: Connection): Set<number> {
  let used = usedIds.get(conn)
  if (!used) usedIds.set(conn, (used = new Set()))
  return used
}

/** The ids `conn` used before, and as many new ones (first come) as the cap leaves room for. */
function withinCap(used: Set<number>, clientIds: number[], cap: number): number[] {
  let room = cap - used.size
  return clientIds.filter((id) => used.has(id) || room-- > 0)
}

/**
 * Largest awareness state (its JSON) kept: a cursor and a name take a few hundred bytes.
 * Larger states are dropped: relayed by every stock client, they would push its messages
 * over the size limit.
 */
export const MAX_AWARENESS_STATE_BYTES = 8 * 1024
/**
 * Awareness messages over this are ignored, not refused: stock clients relay what they
 * received, and no connection may publish more than a few capped states (above).
 */
export const MAX_AWARENESS_MESSAGE_BYTES = 256 * 1024

export function handleAwareness(room: Room, conn: Connection, update: Uint8Array): void {
  let entries = readAwarenessEntries(update)
  const sized = entries.filter((e) => e.json.length <= MAX_AWARENESS_STATE_BYTES)
  if (sized.length !== entries.length) {
    room.ctx.metrics.rejectedMessages.inc({ reason: 'awareness-state-too-large' })
    entries = sized
    update = encodeAwarenessEntries(entries)
  }
  const used = usedBy(conn)
  // Capped before the plugins see them, so that no plugin keeps state for ids beyond it;
  // an id counts as used once the plugins let it through.
  let clientIds = withinCap(
    used,
    entries.map((e) => e.clientID),
    room.ctx.options.maxAwarenessIdsPerConnection,
  )
  for (const p of room.plugins) {
    if (clientIds.length === 0) break
    const keep = p.beforeAwareness?.({ room, connection: conn, clientIds })
    if (keep) clientIds = keep
  }
  if (clientIds.length === 0) return
  for (const id of clientIds) used.add(id)
  if (clientIds.length !== entries.length) {
    const keep = new Set(clientIds)
    update = encodeAwarenessEntries(entries.filter((e) => keep.has(e.clientID)))
  }
  awarenessProtocol.applyAwarenessUpdate(room.awareness, update, conn)
}

/** Kept clocks of removed states older than this may be forgotten (clients drop states after 30 s). */
const FORGET_AFTER_MS = 60_000

/**
 * Awareness keeps the clock of every id it ever saw, so that a stale state relayed later
 * cannot bring a departed client back. Once removed states far outnumber live ones, those
 * older than any client still relays are forgotten: the room's memory follows its clients.
 */
export function forgetRemovedStates(awareness: awarenessProtocol.Awareness): void {
  const { meta, states } = awareness
  if (meta.size <= 2 * states.size + 256) return
  const cutoff = Date.now() - FORGET_AFTER_MS
  for (const [id, m] of meta) if (!states.has(id) && m.lastUpdated < cutoff) meta.delete(id)
}
