/**
 * Redis keys and stream entries of cluster mode (SPEC §11). Redis carries messages between
 * nodes and nothing else: losing any of it costs a resync, never data (storage holds that).
 *
 * - `yroom:in:ROOM` (stream): the room's relayed input, in arrival order at Redis. An
 *   entry: `n` node, `c` connection id on that node, `k` kind, `d` data. What a node relays
 *   for a room in one write (relayed-room.ts, InputQueue) is one entry: `n` node, `k` `b`
 *   (Input.BATCH), `d` the items in order (lib0 encoding: count, then per item connection id as varuint, kind
 *   as varstring, data as varuint8array); a single item stays a plain entry. Read by the
 *   room's authority, item by item; trimmed up to the committed cursor.
 * - `yroom:cursor:ROOM`: how far the authority's stored state covers that stream. A node
 *   taking the room over replays what follows.
 * - `yroom:members:ROOM` (hash `node|conn` → join data): the relayed connections, so a new
 *   authority knows them without their clients reconnecting.
 * - `yroom:out:NODE` (stream): what authorities send to this node's connections. Every
 *   entry: `r` room, `e` epoch, `s` sequence per (room, node), `c` connection ids, `k`, `d`.
 * - `yroom:alive:NODE`: the node's heartbeat, expiring after one lease; when it is gone,
 *   the node's clients count as having left.
 */
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'

export const keys = {
  input: (room: string) => `yroom:in:${room}`,
  cursor: (room: string) => `yroom:cursor:${room}`,
  members: (room: string) => `yroom:members:${room}`,
  output: (node: string) => `yroom:out:${node}`,
  alive: (node: string) => `yroom:alive:${node}`,
}

/** Kinds of input entries (relay → authority). */
export const Input = {
  JOIN: 'j',
  MESSAGE: 'm',
  LEAVE: 'l',
  /** The relay may have missed output: send these connections the room's state again. */
  RESYNC: 'y',
  /** Several of the kinds above from one node, in order (`d`: see the header). */
  BATCH: 'b',
} as const

/** One relayed item: a join, message, leave or resync of one connection. */
export interface InputItem {
  node: string
  conn: number
  kind: string
  data: Buffer
}

/** A relay's items for one room, as one batch entry's `d`. */
export function encodeBatch(items: ReadonlyArray<{ conn: number; kind: string; data: Uint8Array }>): Uint8Array {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, items.length)
  for (const it of items) {
    encoding.writeVarUint(e, it.conn)
    encoding.writeVarString(e, it.kind)
    encoding.writeVarUint8Array(e, it.data)
  }
  return encoding.toUint8Array(e)
}

/**
 * The items of an input entry as read: one for a plain entry, a batch's in order. Throws
 * on a malformed batch (it crossed the network).
 */
export function itemsOf(f: Map<string, Buffer>): InputItem[] {
  const node = f.get('n')?.toString('utf8') ?? ''
  const kind = f.get('k')?.toString('latin1') ?? ''
  const data = f.get('d') ?? Buffer.alloc(0)
  if (kind !== Input.BATCH) return [{ node, conn: Number(f.get('c')?.toString('latin1')), kind, data }]
  const d = decoding.createDecoder(data)
  const n = decoding.readVarUint(d)
  const items: InputItem[] = []
  for (let i = 0; i < n; i++) {
    const conn = decoding.readVarUint(d)
    const k = decoding.readVarString(d)
    const bytes = decoding.readVarUint8Array(d)
    items.push({ node, conn, kind: k, data: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) })
  }
  return items
}

/** Kinds of output entries (authority → relay). */
export const Output = {
  /** `d` is a WebSocket frame, written as is to each connection. */
  FRAME: 'f',
  /** `d` is JSON `{ code, reason }`; code 0 drops the socket without a close frame. */
  CLOSE: 'x',
} as const

/** What a relay tells the authority about a connection it relays (the join's `d`). */
export interface JoinData {
  principal: { id: string; anonymous: boolean; readOnly?: boolean; data?: unknown }
}

/** A stream entry's fields as read with ioredis's Buffer commands. */
export function fieldsOf(raw: Buffer[]): Map<string, Buffer> {
  const m = new Map<string, Buffer>()
  for (let i = 0; i + 1 < raw.length; i += 2) m.set(raw[i].toString('latin1'), raw[i + 1])
  return m
}

/** A stream id `ms-seq` compared as the pair of numbers it is. */
export function idAfter(a: string, b: string): boolean {
  const [am, as] = a.split('-').map(Number)
  const [bm, bs] = b.split('-').map(Number)
  return am > bm || (am === bm && as > bs)
}
