/**
 * A room another node is the authority of, as this node sees it (SPEC §11): its own
 * clients in the room, whose messages it relays to the room's input stream, and what the
 * authority sent them. After a takeover (this node became the authority) the same object
 * hands their messages to the room directly.
 */
import type { Redis } from 'ioredis'
import { handleMessage } from '../room/dispatch.js'
import type { Room } from '../room/room.js'
import type { Rooms } from '../room/rooms.js'
import type { Connection } from '../transport/connection.js'
import type { Metrics } from '../metrics.js'
import { Input, keys, Output, type JoinData } from './keys.js'

export interface RelayContext {
  node: string
  redis: Redis
  rooms: Rooms
  metrics: Metrics
}

/** Input streams keep at most about this many entries; the authority trims what it stored. */
const INPUT_MAXLEN = 1_000_000

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
    this.c.metrics.relayed.inc({ direction: 'out' })
    void this.c.redis
      .xadd(keys.input(this.name), 'MAXLEN', '~', INPUT_MAXLEN, '*', 'n', this.c.node, 'c', String(conn), 'k', kind, 'd', Buffer.from(data))
      .catch(() => {}) // Redis down: the resync when it returns repairs what was lost
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
    this.append(conn.id, Input.JOIN, json)
    void this.c.redis.hset(keys.members(this.name), `${this.c.node}|${conn.id}`, json).catch(() => {})
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
    void this.c.redis.hdel(keys.members(this.name), `${this.c.node}|${conn.id}`).catch(() => {})
    this.append(conn.id, Input.LEAVE, '')
  }

  /** Asks the authority to send every connection here the room's state again. */
  resyncAll(): void {
    for (const conn of this.conns.values()) this.append(conn.id, Input.RESYNC, '')
  }

  /** A takeover begins: messages wait until the relayed input is replayed. */
  hold(): void {
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
