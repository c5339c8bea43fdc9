/**
 * Redis keys and stream entries of cluster mode (SPEC §11). Redis carries messages between
 * nodes and nothing else: losing any of it costs a resync, never data (storage holds that).
 *
 * - `yroom:in:ROOM` (stream): the room's relayed input, in arrival order at Redis. Every
 *   entry: `n` node, `c` connection id on that node, `k` kind, `d` data. Read by the room's
 *   authority; trimmed up to the committed cursor.
 * - `yroom:cursor:ROOM`: how far the authority's stored state covers that stream. A node
 *   taking the room over replays what follows.
 * - `yroom:members:ROOM` (hash `node|conn` → join data): the relayed connections, so a new
 *   authority knows them without their clients reconnecting.
 * - `yroom:out:NODE` (stream): what authorities send to this node's connections. Every
 *   entry: `r` room, `e` epoch, `s` sequence per (room, node), `c` connection ids, `k`, `d`.
 * - `yroom:alive:NODE`: the node's heartbeat, expiring after one lease; when it is gone,
 *   the node's clients count as having left.
 */
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
} as const

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
