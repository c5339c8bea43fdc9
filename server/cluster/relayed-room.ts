/**
 * A room another node is the authority of, as this node sees it (SPEC §11): its own
 * clients in the room, whose messages it relays to the room's input stream, and what the
 * authority sent them. After a takeover (this node became the authority) the same object
 * hands their messages to the room directly.
 */
import type { ChainableCommander, Redis } from 'ioredis'
import { handleMessage } from '../room/dispatch.js'
import type { Room } from '../room/room.js'
import type { Rooms } from '../room/rooms.js'
import type { Connection } from '../transport/connection.js'
import type { Metrics } from '../metrics.js'
import { encodeBatch, Input, keys, Output, type JoinData } from './keys.js'

export interface RelayContext {
  node: string
  rooms: Rooms
  metrics: Metrics
  input: InputQueue
}

/** Input streams keep at most about this many entries; the authority trims what it stored. */
const INPUT_MAXLEN = 1_000_000

/**
 * How relayed input is batched, adaptively like the room's tick (room.ts): a quiet relay
 * writes what it queued at the end of the event-loop turn (a lone edit is not delayed); one
 * that wrote less than INPUT_BUSY_MS ago is busy, and writes again INPUT_BUSY_MS after its
 * last write. Each write costs the relay a Redis command and wakes the authority's read:
 * measured (BENCHMARKS.md, scenario 8), a fixed 2 ms window wrote about one entry per
 * relayed message at the standard load; at most one write per 20 ms cut the two nodes' CPU
 * by about 15 %, for at most 20 ms more latency of relayed writes in busy rooms, whose
 * broadcasts wait for a 50 ms tick anyway.
 */
export const INPUT_BUSY_MS = 20

interface QueuedItem {
  conn: number
  kind: string
  data: Uint8Array
}

interface QueuedRoom {
  items: QueuedItem[]
  /** Members list changes, sent after the room's entry (a join before its member). */
  members: Array<(p: ChainableCommander) => unknown>
}

const encoder = new TextEncoder()
const EMPTY = new Uint8Array(0)

/**
 * What this node relays, gathered per room until the next write (INPUT_BUSY_MS): each
 * room's items become one input stream entry (a batch, or a plain entry for a single
 * item), all rooms' in one pipeline, so the cost per Redis command is paid per room and
 * write, not per client message. Order is kept within a room across kinds, and a member is
 * written after the entry holding its join.
 */
export class InputQueue {
  private rooms = new Map<string, QueuedRoom>()
  private scheduled = false
  /** When the last write went out (performance.now()); -Infinity: never. */
  private lastFlushAt = -Infinity

  constructor(
    private redis: Redis,
    private node: string,
    private metrics: Metrics,
  ) {}

  private roomOf(room: string): QueuedRoom {
    let q = this.rooms.get(room)
    if (!q) this.rooms.set(room, (q = { items: [], members: [] }))
    if (!this.scheduled) {
      this.scheduled = true
      const wait = this.lastFlushAt + INPUT_BUSY_MS - performance.now()
      if (wait > 0) setTimeout(() => this.flush(), wait)
      else setImmediate(() => this.flush())
    }
    return q
  }

  add(room: string, conn: number, kind: string, data: Uint8Array | string): void {
    this.roomOf(room).items.push({ conn, kind, data: typeof data === 'string' ? (data === '' ? EMPTY : encoder.encode(data)) : data })
  }

  member(room: string, op: (p: ChainableCommander) => unknown): void {
    this.roomOf(room).members.push(op)
  }

  /** Writes what is queued (also at once: before a takeover reads the stream, at shutdown). */
  flush(): void {
    this.scheduled = false
    if (this.rooms.size === 0) return
    this.lastFlushAt = performance.now()
    const p = this.redis.pipeline()
    let n = 0
    for (const [room, q] of this.rooms) {
      const key = keys.input(room)
      if (q.items.length === 1) {
        const it = q.items[0]
        p.xadd(key, 'MAXLEN', '~', INPUT_MAXLEN, '*', 'n', this.node, 'c', String(it.conn), 'k', it.kind, 'd', Buffer.from(it.data.buffer, it.data.byteOffset, it.data.byteLength))
      } else if (q.items.length > 1) {
        p.xadd(key, 'MAXLEN', '~', INPUT_MAXLEN, '*', 'n', this.node, 'k', Input.BATCH, 'd', Buffer.from(encodeBatch(q.items)))
      }
      n += q.items.length
      for (const op of q.members) op(p)
    }
    this.rooms.clear()
    if (n > 0) this.metrics.relayed.inc({ direction: 'out' }, n)
    p.exec().catch(() => {}) // Redis down: the resync when it returns repairs what was lost
  }
}

export class RelayedRoom {
  readonly conns = new Map<number, Connection>()
  /** The authority's epoch and the last sequence number seen from it. */
  private epoch = 0
  private seq = 0
  /** Set by a takeover: this node is the room's authority now. */
  direct: Room | null = null
  /** Messages that arrive while a takeover replays the input (handled after it). */
  private held: Array<[Connection, Uint8Array]> | null = null
  /** Connections the authority sent to after they left here: told once. */
  private toldGone = new Set<number>()

  constructor(
    readonly name: string,
    private c: RelayContext,
  ) {}

  private append(conn: number, kind: string, data: Uint8Array | string): void {
    this.c.input.add(this.name, conn, kind, data)
  }

  join(conn: Connection): void {
    this.conns.set(conn.id, conn)
    this.announce(conn)
  }

  /** Tells the authority (and the members list, for a later one) about a connection. */
  announce(conn: Connection): void {
    const data: JoinData = { principal: conn.principal }
    const json = JSON.stringify(data)
    // The join first: a new authority that sees the member also sees its join (hold()).
    // Both are queued: the member goes out after the entry holding the join.
    this.append(conn.id, Input.JOIN, json)
    const field = `${this.c.node}|${conn.id}`
    this.c.input.member(this.name, (p) => p.hset(keys.members(this.name), field, json))
  }

  forward(conn: Connection, bytes: Uint8Array): void {
    if (this.direct) handleMessage(this.direct, conn, bytes)
    else if (this.held) this.held.push([conn, bytes])
    else this.append(conn.id, Input.MESSAGE, bytes)
  }

  leave(conn: Connection): void {
    if (!this.conns.delete(conn.id)) return
    if (this.direct) {
      void this.c.rooms.detach(this.direct, conn)
      return
    }
    this.append(conn.id, Input.LEAVE, '')
    const field = `${this.c.node}|${conn.id}`
    this.c.input.member(this.name, (p) => p.hdel(keys.members(this.name), field))
  }

  /** Asks the authority to send every connection here the room's state again. */
  resyncAll(): void {
    for (const conn of this.conns.values()) this.append(conn.id, Input.RESYNC, '')
  }

  /** A takeover begins: messages wait until the relayed input is replayed. */
  hold(): void {
    // What is queued goes to the stream first: the takeover reads it from there.
    this.c.input.flush()
    this.held = []
  }

  /** The takeover is done (`room`) or failed (null): waiting messages go where they belong now. */
  release(room: Room | null): void {
    const waiting = this.held ?? []
    this.held = null
    this.direct = room
    for (const [conn, bytes] of waiting) if (!conn.closed) this.forward(conn, bytes)
  }

  /** An entry of this node's output stream for this room. */
  deliver(f: Map<string, Buffer>): void {
    if (this.direct) return // from a former authority
    const epoch = Number(f.get('e')?.toString('latin1'))
    const seq = Number(f.get('s')?.toString('latin1'))
    if (epoch < this.epoch) return // a former authority: fenced, it may not speak for the room
    if (epoch > this.epoch) this.epoch = epoch
    else if (seq !== this.seq + 1) this.resyncAll() // entries were lost
    this.seq = seq
    const kind = f.get('k')?.toString('latin1')
    const data = f.get('d') ?? Buffer.alloc(0)
    for (const part of (f.get('c')?.toString('latin1') ?? '').split(',')) {
      const id = Number(part)
      const conn = this.conns.get(id)
      if (!conn) {
        this.gone(id)
        continue
      }
      if (kind === Output.FRAME) conn.sendFrame(data)
      else if (kind === Output.CLOSE) {
        const { code, reason } = JSON.parse(data.toString('utf8')) as { code: number; reason: string }
        if (code === 0) conn.terminate()
        else conn.close(code, reason)
      }
    }
  }

  /** The authority serves a connection that left here (its leave was lost): tell it again. */
  gone(id: number): void {
    if (!Number.isSafeInteger(id) || this.toldGone.has(id)) return
    if (this.toldGone.size > 10_000) this.toldGone.clear()
    this.toldGone.add(id)
    this.append(id, Input.LEAVE, '')
  }
}
