/**
 * A room this node is the authority of, as cluster mode sees it (SPEC §11): the clients it
 * serves through other nodes, and its position in the room's relayed input. Input entries
 * are handled one after another in stream order, which is the arrival order the room
 * judges in, and a batch entry's items in their order, each as a plain entry would be; a
 * join waits for the plugins' onConnect before the next item.
 */
import * as Y from 'yjs'
import { CloseCode } from '../../src/shared/protocol/close-codes.js'
import { Refusal } from '../plugin.js'
import { handleMessage } from '../room/dispatch.js'
import type { Room } from '../room/room.js'
import type { Rooms } from '../room/rooms.js'
import type { Connection } from '../transport/connection.js'
import type { Principal } from '../transport/principal.js'
import { encodeSyncStep1, encodeSyncUpdate } from '../codec/sync-messages.js'
import type { Logger } from '../logger.js'
import type { Metrics } from '../metrics.js'
import { Input, itemsOf, type InputItem, type JoinData } from './keys.js'
import type { Outbox } from './outbox.js'
import { RemoteConnection } from './remote-connection.js'

export interface HeldContext {
  /** This node's name in the cluster. */
  node: string
  rooms: Rooms
  outbox: Outbox
  metrics: Metrics
  logger: Logger
  /** The room's input is stored up to `position`. */
  committed(room: string, position: string): void
  /** A relayed connection the authority does not know: its node is told it is gone. */
  unknown(node: string, room: string, conn: number): void
}

/** An input entry as read: its stream id and its fields. */
export type InputEntry = [id: string, fields: Map<string, Buffer>]

/** A principal as a relay sent it, checked field by field (it crossed the network). */
function principalFrom(data: Buffer): Principal | null {
  try {
    const p = (JSON.parse(data.toString('utf8')) as JoinData).principal
    if (typeof p?.id !== 'string') return null
    return { id: p.id, anonymous: p.anonymous === true, ...(p.readOnly === true ? { readOnly: true } : {}), ...(p.data !== undefined ? { data: p.data } : {}) }
  } catch {
    return null
  }
}

export class HeldRoom {
  /** Where the next read of the input stream starts. */
  readFrom: string
  /** The last input entry handled: a batch taken now holds everything up to it. */
  private handled: string | null = null
  readonly remotes = new Map<string, RemoteConnection>()
  /** This node's own connections by id: entries they relayed before a takeover are theirs. */
  local = new Map<number, Connection>()
  private chain: Promise<void> = Promise.resolve()
  /** Unknown connections whose node was told to close them (once each). */
  private toldUnknown = new Set<string>()

  constructor(
    readonly room: Room,
    private c: HeldContext,
    from: string,
  ) {
    this.readFrom = from
    room.inputCursor = {
      current: () => this.handled,
      committed: (position) => c.committed(room.name, position),
    }
  }

  /** Handles entries after every earlier one. */
  take(entries: InputEntry[]): Promise<void> {
    this.chain = this.chain
      .then(() => this.handleAll(entries))
      .catch((err: unknown) => this.c.logger.error({ err, room: this.room.name }, 'relayed input failed'))
    return this.chain
  }

  private async handleAll(entries: InputEntry[]): Promise<void> {
    let count = 0
    for (const [id, f] of entries) {
      if (this.room.failed || this.room.closed) break
      let items: InputItem[]
      try {
        items = itemsOf(f)
      } catch (err) {
        this.c.logger.warn({ err, room: this.room.name }, 'a relayed entry is malformed')
        items = []
      }
      let done = 0
      for (const item of items) {
        if (done > 0 && (this.room.failed || this.room.closed)) break
        done++
        try {
          // Only joins and resyncs wait: a message is handled without a promise per item.
          const waiting = this.handle(item)
          if (waiting) await waiting
        } catch (err) {
          this.c.logger.warn({ err, room: this.room.name }, 'a relayed entry failed')
        }
        count++
      }
      // A batch the room failed or closed in the middle of is not handled (nor stored).
      if (done < items.length) break
      this.handled = id
    }
    this.c.metrics.relayed.inc({ direction: 'in' }, count)
  }

  private handle({ node, conn: id, kind, data }: InputItem): Promise<void> | undefined {
    if (!Number.isSafeInteger(id)) return
    const conn = node === this.c.node ? this.local.get(id) : this.remotes.get(`${node}|${id}`)
    switch (kind) {
      case Input.JOIN:
        if (!conn && node !== this.c.node) return this.adopt(node, id, data, false)
        return
      case Input.MESSAGE:
        if (!conn) {
          // Its join never arrived (Redis lost it): its node closes it, the client reconnects.
          const key = `${node}|${id}`
          if (node !== this.c.node && !this.toldUnknown.has(key)) {
            if (this.toldUnknown.size > 10_000) this.toldUnknown.clear()
            this.toldUnknown.add(key)
            this.c.unknown(node, this.room.name, id)
          }
          return
        }
        if (!conn.closed) handleMessage(this.room, conn, new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
        return
      case Input.LEAVE:
        if (conn instanceof RemoteConnection) this.drop(conn, true)
        return
      case Input.RESYNC:
        if (conn) return this.resync([conn])
        return
    }
  }

  /**
   * Serves a client of another node. `quiet`: it was synced by the room's former authority
   * (a takeover); it gets the state as stored instead of a handshake (resyncAll).
   */
  async adopt(node: string, id: number, data: Buffer, quiet: boolean): Promise<void> {
    const principal = principalFrom(data)
    if (!principal) {
      this.c.logger.warn({ room: this.room.name, node }, 'relayed join without a valid principal')
      return
    }
    const conn = new RemoteConnection(node, id, this.room.name, principal, this.c.metrics, this.c.logger, this.c.outbox)
    if (!(await this.connect(conn))) return
    this.remotes.set(conn.key, conn)
    if (quiet) this.room.services.identity?.adoptStoredIds(conn)
    this.c.rooms.adopt(this.room, conn, quiet)
  }

  /** Runs the plugins' onConnect; false (and the connection closed) when one refuses. */
  async connect(conn: Connection): Promise<boolean> {
    try {
      for (const p of this.room.plugins) await p.onConnect?.({ room: this.room, connection: conn })
      return true
    } catch (err) {
      const refused = err instanceof Refusal
      this.c.logger.info({ room: this.room.name, principal: conn.principal.id, reason: (err as Error)?.message }, 'relayed connection refused')
      conn.close(refused ? CloseCode.FORBIDDEN : CloseCode.INTERNAL_ERROR, refused ? err.message : 'connection setup failed')
      return false
    }
  }

  /** A remote client left (`leave`: its onDisconnect hooks run) or is forgotten. */
  drop(conn: RemoteConnection, leave: boolean): void {
    if (this.remotes.get(conn.key) !== conn) return
    this.remotes.delete(conn.key)
    conn.silence()
    if (leave) void this.c.rooms.detach(this.room, conn)
    else this.room.connections.delete(conn)
  }

  /**
   * Sends connections the room's state as stored, and its state vector: their clients
   * answer with what they have and the room lacks. For a relay that may have missed
   * messages (Redis lost them), and after a takeover.
   */
  async resync(conns: Iterable<Connection>, handshake = true): Promise<void> {
    await this.room.whenStored()
    const step1 = handshake ? encodeSyncStep1(this.room.doc) : null
    const state = encodeSyncUpdate(Y.encodeStateAsUpdate(this.room.doc))
    for (const conn of conns) {
      if (conn.closed) continue
      if (step1) conn.send(step1)
      conn.send(state)
    }
  }
}
