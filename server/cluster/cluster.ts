/**
 * Cluster mode (SPEC §11, docs/scaling-out.md): several nodes serve the same rooms over
 * shared storage. Each loaded room has one authority, the node holding its lease in
 * storage; it judges, stores and sends as a single server does. Any other node with
 * clients in the room relays their joins, messages and leaves to the room's input stream
 * in Redis and writes what the authority sends them to their sockets. When the authority
 * is gone, a node with clients in the room takes its lease over, loads the room from
 * storage and replays the input its former authority had not stored.
 *
 * Redis is a transport here, never the source of truth: every write goes to storage under
 * the lease's epoch, and what Redis loses is repaired by a resync.
 */
import { Redis } from 'ioredis'
import { CloseCode } from '../../src/shared/protocol/close-codes.js'
import { Rooms } from '../room/rooms.js'
import type { Room } from '../room/room.js'
import type { Connection } from '../transport/connection.js'
import { RoomLeased, type Storage } from '../storage/storage.js'
import type { Logger } from '../logger.js'
import type { Metrics } from '../metrics.js'
import { fieldsOf, Input, itemsOf, keys } from './keys.js'
import { Outbox } from './outbox.js'
import { HeldRoom, type InputEntry } from './held-room.js'
import { InputQueue, RelayedRoom } from './relayed-room.js'

export interface ClusterOptions {
  redisUrl: string
  leaseMs: number
  storage: Storage
  rooms: Rooms
  metrics: Metrics
  logger: Logger
}

/** How long one blocking read waits; rooms newly held are read from the next one on. */
const READ_BLOCK_MS = 100
/** Entries taken per stream and read. */
const READ_COUNT = 1000

const STREAM_ID = /^\d{1,20}-\d{1,20}$/

type RawStreams = Array<[Buffer, Array<[Buffer, Buffer[]]>]> | null

export class Cluster {
  /** This node's name: its lease holder name, fresh per start. */
  readonly node: string
  private readonly cmd: Redis
  private readonly reader: Redis
  private readonly outbox: Outbox
  /** What this node relays, written once per event-loop turn. */
  private readonly input: InputQueue
  private readonly held = new Map<string, HeldRoom>()
  private readonly relayed = new Map<string, RelayedRoom>()
  /** Rooms being taken (hold): a second join waits for the first. */
  private readonly holding = new Map<string, Promise<void>>()
  private outputFrom = '0'
  private closing = false
  private timers: NodeJS.Timeout[] = []
  /** When Redis last became reachable: nodes get one lease to renew their heartbeat after. */
  private readyAt = performance.now()
  private loop: Promise<void> = Promise.resolve()
  private outputTrimmedAt = 0

  constructor(private o: ClusterOptions) {
    const leases = o.storage.leases?.()
    if (!leases || !o.storage.epoch || !o.storage.unleased) throw new Error('cluster mode needs shared storage (--data postgres://…)')
    this.node = leases.holder
    const common = { maxRetriesPerRequest: null, retryStrategy: (n: number) => Math.min(50 * n, 1000), lazyConnect: true }
    // No auto-pipelining: what is sent per turn is already gathered (InputQueue, Outbox),
    // and ioredis's per-command bookkeeping for it measured costlier than it saved.
    this.cmd = new Redis(o.redisUrl, { ...common, enableAutoPipelining: false, connectionName: `yroom:${this.node}` })
    this.reader = new Redis(o.redisUrl, { ...common, connectionName: `yroom:${this.node}:reader` })
    for (const r of [this.cmd, this.reader]) r.on('error', (err: Error) => o.logger.debug({ err: err.message }, 'redis'))
    this.input = new InputQueue(this.cmd, this.node, o.metrics)
    this.outbox = new Outbox(this.cmd, (room) => o.storage.epoch!(room), (err) => o.logger.warn({ err }, 'cluster: sending to other nodes failed'))
    o.rooms.waitForLease = false
    o.rooms.onRoomGone = (room) => this.unhold(room)
    o.rooms.cluster = {
      clientsElsewhere: async (name) => (this.relayed.get(name)?.conns.size ?? 0) > 0 || (await this.cmd.hlen(keys.members(name))) > 0,
      hold: (room) => this.hold(room),
    }
  }

  async start(): Promise<void> {
    await Promise.all([this.cmd.connect(), this.reader.connect()])
    let first = true
    this.cmd.on('ready', () => {
      // Redis came back (maybe empty): announce our clients again and have them resynced.
      this.readyAt = performance.now()
      if (first) return
      void this.heartbeat()
      for (const r of this.relayed.values()) {
        if (r.direct) continue
        for (const conn of r.conns.values()) r.announce(conn)
        r.resyncAll()
      }
    })
    first = false
    await this.heartbeat()
    const every = (ms: number, fn: () => unknown) => {
      const t = setInterval(() => void fn(), Math.max(20, ms))
      t.unref()
      this.timers.push(t)
    }
    every(this.o.leaseMs / 3, () => this.heartbeat())
    every(this.o.leaseMs / 2, () => this.takeovers())
    every(this.o.leaseMs / 2, () => this.sweepDeadNodes())
    this.loop = this.readLoop()
  }

  private heartbeat(): Promise<unknown> {
    return this.cmd.set(keys.alive(this.node), this.httpUrl ?? '1', 'PX', Math.max(1000, this.o.leaseMs)).catch(() => {})
  }

  /** The URL of this node's HTTP API, published as its heartbeat's value (the HTTP API forwards to it). */
  private httpUrl: string | null = null

  advertise(url: string): Promise<unknown> {
    this.httpUrl = url
    return this.heartbeat()
  }

  /** The HTTP URLs the other live nodes published (the HTTP API fans principal commands out to them). */
  async peerUrls(): Promise<string[]> {
    const names: string[] = []
    let cursor = '0'
    do {
      const [next, batch] = await this.cmd.scan(cursor, 'MATCH', keys.alive('*'), 'COUNT', 1000)
      cursor = next
      names.push(...batch)
    } while (cursor !== '0')
    const others = names.filter((k) => k !== keys.alive(this.node))
    if (others.length === 0) return []
    const values = await this.cmd.mget(...others).catch(() => [] as Array<string | null>)
    return values.filter((v): v is string => v !== null && /^https?:\/\//.test(v))
  }

  /** The HTTP URL a live node published, or null. */
  async httpUrlOf(node: string): Promise<string | null> {
    const v = await this.cmd.get(keys.alive(node)).catch(() => null)
    return v !== null && /^https?:\/\//.test(v) ? v : null
  }

  // ---- joining ----

  /**
   * Where a new connection's messages go: the room when this node is (or becomes) its
   * authority, else a relay to the authority. `room` is the loaded room, or null.
   */
  relayFor(conn: Connection): RelayedRoom {
    let r = this.relayed.get(conn.room)
    if (!r) this.relayed.set(conn.room, (r = new RelayedRoom(conn.room, { node: this.node, rooms: this.o.rooms, metrics: this.o.metrics, input: this.input })))
    r.join(conn)
    return r
  }

  /** A relayed connection closed. */
  leave(r: RelayedRoom, conn: Connection): void {
    r.leave(conn)
    if (r.conns.size === 0 && this.relayed.get(r.name) === r) this.relayed.delete(r.name)
  }

  /**
   * The room is being loaded here (Rooms.load): this node is its authority now. It serves
   * the room's clients on other nodes, replays the input its former authority had not
   * stored, and reads the room's input from then on.
   */
  hold(room: Room): Promise<void> {
    if (this.held.get(room.name)?.room === room) return Promise.resolve()
    let p = this.holding.get(room.name)
    if (!p) {
      p = this.take(room).finally(() => this.holding.delete(room.name))
      this.holding.set(room.name, p)
    }
    return p
  }

  private async take(room: Room): Promise<void> {
    const relay = this.relayed.get(room.name)
    relay?.hold()
    const started = performance.now()
    let h: HeldRoom | null = null
    try {
      // Validated: one bad id in the shared XREAD would stop the reading of every room.
      const stored = await this.cmd.get(keys.cursor(room.name))
      const cursor = stored !== null && STREAM_ID.test(stored) ? stored : null
      h = new HeldRoom(room, this.heldContext(), cursor ?? '0')
      // Clients served through other nodes, and the input its former authority had not
      // stored, in arrival order. Read in this order: a relay writes a join before the
      // member, so every member read here has its join in `entries` or before the cursor.
      const members = await this.cmd.hgetallBuffer(keys.members(room.name))
      const raw = (await this.cmd.xrangeBuffer(keys.input(room.name), cursor ? `(${cursor}` : '-', '+')) as Array<[Buffer, Buffer[]]>
      const entries: InputEntry[] = raw.map(([id, f]) => [id.toString('latin1'), fieldsOf(f)])
      if (entries.length > 0) h.readFrom = entries[entries.length - 1][0]
      const joining = new Set<string>()
      for (const [, f] of entries) {
        let items
        try {
          items = itemsOf(f)
        } catch {
          continue // malformed: HeldRoom.take skips it too
        }
        for (const it of items) if (it.kind === Input.JOIN) joining.add(`${it.node}|${it.conn}`)
      }
      for (const [key, data] of Object.entries(members)) {
        const bar = key.lastIndexOf('|')
        const node = key.slice(0, bar)
        const id = Number(key.slice(bar + 1))
        // Joined under a former authority: synced, adopted without a handshake. A join
        // still in `entries` gets its handshake when it is replayed.
        if (node !== this.node && Number.isSafeInteger(id) && !joining.has(key)) await h.adopt(node, id, data, true)
      }
      if (relay) {
        h.local = relay.conns
        for (const conn of relay.conns.values()) {
          if (!(await h.connect(conn))) continue
          // Like the members above: a connection no authority handled yet gets its handshake.
          const synced = !joining.has(`${this.node}|${conn.id}`)
          if (synced) room.services.identity?.adoptStoredIds(conn)
          this.o.rooms.adopt(room, conn, synced)
        }
      }
      await h.take(entries)
      if (h.remotes.size > 0 || relay) {
        // Everyone gets the state as stored: what the former authority stored but had not sent.
        await h.resync([...h.remotes.values(), ...(relay?.conns.values() ?? [])], false)
        this.o.metrics.takeoverSeconds.observe((performance.now() - started) / 1000)
        this.o.logger.info({ room: room.name, remotes: h.remotes.size, replayed: entries.length, ms: Math.round(performance.now() - started) }, 'cluster: serving the room as its authority')
      }
      // Read from now on, after the replayed entries (not before: they would be read twice).
      this.held.set(room.name, h)
      relay?.release(room)
    } catch (err) {
      // Not held: Rooms.load gives the lease up and the join (or takeover) fails.
      if (h) for (const conn of [...h.remotes.values()]) h.drop(conn, false)
      relay?.release(null)
      throw err
    }
  }

  private heldContext() {
    return {
      node: this.node,
      rooms: this.o.rooms,
      outbox: this.outbox,
      metrics: this.o.metrics,
      logger: this.o.logger,
      committed: (room: string, position: string) => this.outbox.cursor(room, position),
      unknown: (node: string, room: string, conn: number) => this.outbox.close(node, room, conn, CloseCode.TRY_AGAIN_LATER, 'room moved to another server; reconnect'),
    }
  }

  private unhold(room: Room): void {
    const h = this.held.get(room.name)
    if (!h || h.room !== room) return
    this.held.delete(room.name)
    this.outbox.forget(room.name)
    // Lost lease or unload: the clients of other nodes are served by the next authority.
    for (const conn of h.remotes.values()) h.drop(conn, false)
    const relay = this.relayed.get(room.name)
    if (relay?.direct === room) relay.direct = null
  }

  // ---- failover ----

  /** Rooms this node relays whose authority may be gone: try to take their lease. */
  private async takeovers(): Promise<void> {
    const candidates = [...this.relayed.values()].filter((r) => !r.direct)
    if (candidates.length === 0 || this.closing) return
    // One query for all of them: most rooms have a live authority.
    let free: Set<string>
    try {
      free = new Set(await this.o.storage.unleased!(candidates.map((r) => r.name)))
    } catch {
      return // the database is unreachable: nobody can take anything over
    }
    for (const r of candidates) {
      if (r.direct || this.closing || !free.has(r.name)) continue
      try {
        await this.o.rooms.open(r.name) // loads it and holds it (Rooms.load)
      } catch (err) {
        if (!(err instanceof RoomLeased)) this.o.logger.warn({ err, room: r.name }, 'cluster: takeover failed')
      }
    }
  }

  /** Clients of nodes whose heartbeat expired have left (lifetime deletions run). */
  private async sweepDeadNodes(): Promise<void> {
    if (performance.now() - this.readyAt < this.o.leaseMs || this.cmd.status !== 'ready') return
    const nodes = new Set<string>()
    for (const h of this.held.values()) for (const conn of h.remotes.values()) nodes.add(conn.node)
    if (nodes.size === 0) return
    const list = [...nodes]
    let alive: number[]
    try {
      alive = await Promise.all(list.map((n) => this.cmd.exists(keys.alive(n))))
    } catch {
      return
    }
    const dead = new Set(list.filter((_, i) => alive[i] === 0))
    if (dead.size === 0) return
    // Nobody reads a dead node's output any more.
    for (const n of dead) void this.cmd.del(keys.output(n)).catch(() => {})
    for (const h of this.held.values()) {
      for (const conn of [...h.remotes.values()]) {
        if (!dead.has(conn.node)) continue
        h.drop(conn, true)
        void this.cmd.hdel(keys.members(h.room.name), conn.key).catch(() => {})
      }
    }
    this.o.logger.warn({ nodes: [...dead] }, 'cluster: nodes stopped; their clients left')
  }

  // ---- reading ----

  private async readLoop(): Promise<void> {
    const output = keys.output(this.node)
    while (!this.closing) {
      const held = [...this.held.values()]
      const byKey = new Map(held.map((h) => [keys.input(h.room.name), h]))
      const streams = [output, ...byKey.keys()]
      const from = [this.outputFrom, ...held.map((h) => h.readFrom)]
      let res: RawStreams
      try {
        res = (await this.reader.xreadBuffer('COUNT', READ_COUNT, 'BLOCK', READ_BLOCK_MS, 'STREAMS', ...streams, ...from)) as RawStreams
      } catch (err) {
        if (this.closing) return
        this.o.logger.debug({ err: (err as Error).message }, 'cluster: read failed')
        await new Promise((r) => setTimeout(r, 200))
        continue
      }
      if (!res) continue
      for (const [key, raw] of res) {
        const name = key.toString('utf8')
        if (raw.length === 0) continue
        const last = raw[raw.length - 1][0].toString('latin1')
        if (name === output) {
          this.outputFrom = last
          for (const [, f] of raw) this.deliver(fieldsOf(f))
          this.trimOutput(output, last)
          continue
        }
        const h = byKey.get(name)
        if (!h || this.held.get(h.room.name) !== h) continue
        h.readFrom = last
        void h.take(raw.map(([id, f]) => [id.toString('latin1'), fieldsOf(f)]))
      }
    }
  }

  /** What this node has read of its output stream is dropped (at most once a second). */
  private trimOutput(key: string, upTo: string): void {
    const now = performance.now()
    if (now - this.outputTrimmedAt < 1000) return
    this.outputTrimmedAt = now
    void this.cmd.xtrim(key, 'MINID', upTo).catch(() => {})
  }

  private deliver(f: Map<string, Buffer>): void {
    const room = f.get('r')?.toString('utf8')
    if (room === undefined) return
    const r = this.relayed.get(room)
    if (r) r.deliver(f)
  }

  // ---- status and shutdown ----

  /** GET /cluster: what this node holds and relays. */
  status(): { node: string; relayed: Array<{ name: string; clients: number }>; remoteClients: number } {
    let remoteClients = 0
    for (const h of this.held.values()) remoteClients += h.remotes.size
    return {
      node: this.node,
      relayed: [...this.relayed.values()].filter((r) => !r.direct).map((r) => ({ name: r.name, clients: r.conns.size })),
      remoteClients,
    }
  }

  /**
   * Shutdown, before the rooms unload: clients of other nodes are let go without leaving
   * (their node keeps them, and the next authority serves them), so the rooms unload and
   * their leases are released at once.
   */
  detachRemotes(): void {
    for (const h of this.held.values()) {
      if (h.remotes.size === 0) continue
      h.room.handover = true
      for (const conn of [...h.remotes.values()]) h.drop(conn, false)
    }
  }

  async close(): Promise<void> {
    this.closing = true
    for (const t of this.timers) clearInterval(t)
    // The blocking read ends at once (with Redis down it would wait for Redis forever).
    this.reader.disconnect()
    await this.loop
    // What is queued (leaves of this node's clients) goes out, if Redis answers in time.
    this.input.flush()
    const quit = this.cmd.quit().catch(() => undefined)
    await Promise.race([quit, new Promise((r) => setTimeout(r, 2000).unref())])
    this.cmd.disconnect()
  }
}
