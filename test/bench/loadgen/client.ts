/**
 * One simulated client of the load generator. It holds a small Y.Doc only for its own writes
 * and finds the timestamps of other clients' writes in the raw frames it receives, without
 * decoding them. Offenders (rejection storm) are the exception: they must see their replica
 * roll back, so they apply what they receive.
 *
 * Two shapes (LoadConfig.shape):
 *  - 'stock' (the default): what a stock y-websocket or Hocuspocus client sends. The `ws`
 *    package's socket (random masks, permessage-deflate offered), a hello with sync step 1
 *    and the awareness state, sync step 2 in answer to the server's step 1, and every write a
 *    real Yjs transaction setting the client's own key of one shared root map.
 *  - 'stock-bytes': the same bytes from a cheaper generator: after its first write through
 *    Yjs, each overwrite of its key is encoded directly (overwrite.ts; the update Yjs writes
 *    for it, byte for byte: harness.test.ts), over the raw socket (masked with the zero key;
 *    no deflate offered, which no server here accepts). Scenario 1 compares the servers' CPU
 *    under it with stock clients; until the two agree, no scenario measures with it.
 *  - 'models': each client writes into its own owned model (SPEC §2), the overwrite encoded
 *    directly after the first (overwrite.ts), over the cheaper raw socket (ws-client.ts).
 *    The rejection storm needs it: its offenders write into other clients' owned models.
 */
import * as Y from 'yjs'
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks'
import { RawWebSocket } from '../lib/ws-client.js'
import { StockWebSocket } from '../lib/stock-socket.js'
import { Framing, SYNC_STEP1, SYNC_STEP2, SYNC_UPDATE } from '../lib/framing.js'
import { MAGIC_REJECTED, marker, scanMarkers } from '../lib/marker.js'
import { encodeOverwrite } from './overwrite.js'
import { fixedRate } from './fixed-rate.js'
import type { LoadShape } from './types.js'

const LOCAL = Symbol('bench.local')
const REMOTE = Symbol('bench.remote')

export const nowMicros = (): number => Math.round(performance.now() * 1000)

/** Counters shared by all clients of one run. Window bounds are in µs (`nowMicros`). */
export class Stats {
  t0 = Infinity
  t1 = Infinity
  writes = 0
  rejectedWrites = 0
  delivered = 0
  rolledBack = 0
  framesIn = 0
  foreign = 0
  disconnects = 0
  stopping = false
  readonly errors = new Set<string>()
  readonly latency: RecordableHistogram = createHistogram()
  readonly rollbackLatency: RecordableHistogram = createHistogram()
  /** Each offender's first rejected write (made in the warm-up, so outside the window). */
  readonly firstRollbackLatency: RecordableHistogram = createHistogram()
  /**
   * Cluster mode: by global client id, 1 if the client is connected to its room's authority,
   * 0 if to a node that relays it, -1 unknown; with it, window latencies by path (types.ts PATHS).
   */
  onAuthority: Int8Array | null = null
  readonly pathLatency: RecordableHistogram[] = [0, 1, 2, 3].map(() => createHistogram())
  /** Called for every write a client receives for the first time, window or not (failover timing). */
  onDelivery: ((writer: number, tsMicros: number, receiver: ClientSpec, nowMicros: number) => void) | null = null

  inWindow(ts: number): boolean {
    return ts >= this.t0 && ts < this.t1
  }
}

export interface ClientSpec {
  /** Global writer id; the room's clients are ids [roomBase, roomBase + clientsPerRoom). */
  id: number
  roomBase: number
  clientsPerRoom: number
  roomName: string
  /** Offenders write into the model of `victimId` instead of their own. */
  victimId: number | null
  /** Cluster mode: the index of the node it connects to. */
  node?: number
  /** What it sends (see the top of this file). */
  shape: LoadShape
}

/** The stock shape's shared root map; each client writes the key `c${id}`. */
export const SHARED_MAP = 'shared'

const modelKey = (id: number) => `m${id}`

export class BenchClient {
  readonly doc = new Y.Doc()
  synced = false
  /** Its connection closed (by the server, or the server died). */
  disconnected = false
  private ws: RawWebSocket | StockWebSocket | null = null
  private model: Y.Map<unknown> | null = null
  private readonly lastSeen: Float64Array
  private readonly framing: Framing
  private outstanding: Array<{ item: Y.Item; ts: number; first: boolean }> = []
  /** Clock of this client's next write once its first went through Yjs (then encoded directly). */
  private nextClock: number | null = null
  private seq = 0
  private stopWriting: (() => void) | null = null

  constructor(
    readonly spec: ClientSpec,
    flavor: ConstructorParameters<typeof Framing>[0],
    private stats: Stats,
  ) {
    this.framing = new Framing(flavor, spec.roomName)
    this.lastSeen = new Float64Array(spec.clientsPerRoom).fill(-1)
  }

  /**
   * Runs a local write and sends its update. The update listener is attached only for it:
   * while any is attached, Yjs encodes every transaction, and offenders apply everything
   * their room broadcasts.
   */
  private writeLocal(fn: () => void): void {
    let update: Uint8Array | null = null
    const capture = (u: Uint8Array) => {
      update = u
    }
    this.doc.on('update', capture)
    try {
      this.doc.transact(fn, LOCAL)
    } finally {
      this.doc.off('update', capture)
    }
    if (update !== null) this.ws?.send(this.framing.update(update))
  }

  get offender(): boolean {
    return this.spec.victimId !== null
  }

  /** Sends what a stock client sends (either stock shape). */
  get stock(): boolean {
    return this.spec.shape !== 'models'
  }

  async connect(host: string, port: number): Promise<void> {
    const Socket = this.spec.shape === 'stock' ? StockWebSocket : RawWebSocket
    this.ws = await Socket.open(host, port, this.framing.path, {
      onMessage: (p) => this.onMessage(p),
      onClose: (reason) => {
        this.disconnected = true
        if (this.stats.stopping) return
        this.stats.disconnects++
        if (this.stats.errors.size < 10) this.stats.errors.add(`client disconnected: ${reason}`)
      },
    })
    for (const m of this.framing.hello(Y.encodeStateVector(this.doc))) this.ws.send(m)
    if (this.stock) this.ws.send(this.framing.awareness(this.doc.clientID, '{}'))
  }

  /** Send time of the newest write of the room's writer `local` this client received (-1: none). */
  lastSeenOf(local: number): number {
    return this.lastSeen[local]
  }

  get bytesIn(): number {
    return this.ws?.bytesIn ?? 0
  }

  /** Creates this client's model, owned by it (SPEC §2: `$meta.ownerID` = its clientID). Stock clients need none. */
  createModel(): void {
    if (this.stock) return
    this.writeLocal(() => {
      const model = new Y.Map<unknown>()
      this.doc.getMap('models').set(modelKey(this.spec.id), model)
      const meta = new Y.Map<unknown>()
      model.set('$meta', meta)
      meta.set('ownerID', this.doc.clientID)
      this.model = model
    })
  }

  /** Offenders: whether the victim's model has reached this replica. */
  hasVictim(): boolean {
    const m = this.doc.getMap('models').get(modelKey(this.spec.victimId!))
    return m instanceof Y.Map && m.get('$meta') instanceof Y.Map
  }

  /** Writes at `hz` from a random phase, on a fixed schedule (fixed-rate.ts). */
  start(hz: number): void {
    this.stopWriting = fixedRate(hz, Math.random() * (1000 / hz), () => this.write())
  }

  stop(): void {
    this.stopWriting?.()
  }

  close(): void {
    this.stop()
    this.ws?.close()
    this.doc.destroy()
  }

  private write(): void {
    const ts = nowMicros()
    const inWindow = this.stats.inWindow(ts)
    if (!this.offender) {
      const value = marker(this.spec.id, ts)
      if (this.spec.shape === 'stock') {
        this.writeLocal(() => this.doc.getMap(SHARED_MAP).set(`c${this.spec.id}`, value))
      } else if (this.nextClock === null) {
        // The first write has no previous value to overwrite: Yjs writes it.
        this.writeLocal(() => (this.stock ? this.doc.getMap(SHARED_MAP) : this.model!).set(this.stock ? `c${this.spec.id}` : 'v', value))
        this.nextClock = Y.getState(this.doc.store, this.doc.clientID)
      } else {
        // Then the same overwrite, encoded directly (this replica is not read again).
        this.ws?.send(this.framing.update(encodeOverwrite(this.doc.clientID, this.nextClock++, value)))
      }
      if (inWindow) this.stats.writes++
      return
    }
    const victim = this.doc.getMap('models').get(modelKey(this.spec.victimId!)) as Y.Map<unknown>
    // A fresh key per write: overwriting one key would delete the previous item locally,
    // which would look like a rollback.
    const key = `x${this.spec.id}_${this.seq++}`
    this.writeLocal(() => victim.set(key, marker(this.spec.id, ts, MAGIC_REJECTED)))
    this.outstanding.push({ item: victim._map.get(key)!, ts, first: this.seq === 1 })
    if (inWindow) this.stats.rejectedWrites++
  }

  private onMessage(payload: Buffer): void {
    const stats = this.stats
    stats.framesIn++
    const p = this.framing.parse(payload)
    if (p.sync === SYNC_UPDATE) {
      const now = nowMicros()
      const base = this.spec.roomBase
      scanMarkers(payload, p.body, (writer, ts) => {
        if (writer === this.spec.id) return
        const local = writer - base
        if (local < 0 || local >= this.lastSeen.length) {
          stats.foreign++
          return
        }
        // Merged and echoed messages may repeat a write; count each write once per receiver.
        if (ts <= this.lastSeen[local]) return
        this.lastSeen[local] = ts
        stats.onDelivery?.(writer, ts, this.spec, now)
        if (ts < stats.t0 || ts >= stats.t1) return
        stats.delivered++
        const us = Math.max(1, now - ts)
        stats.latency.record(us)
        const on = stats.onAuthority
        if (on !== null) {
          const w = on[writer]
          const r = on[this.spec.id]
          if (w >= 0 && r >= 0) stats.pathLatency[(w ? 0 : 2) + (r ? 0 : 1)].record(us)
        }
      })
    } else if (p.sync === SYNC_STEP2) {
      this.synced = true
    } else if (p.sync === SYNC_STEP1 && this.stock) {
      // A stock client answers the server's step 1 with what the server lacks (its own writes).
      const sv = this.framing.body(payload, p.body)
      this.ws?.send(this.framing.step2(Y.encodeStateAsUpdate(this.doc, sv)))
    }
    if (this.offender && (p.sync === SYNC_UPDATE || p.sync === SYNC_STEP2)) {
      Y.applyUpdate(this.doc, this.framing.body(payload, p.body), REMOTE)
      this.checkRollbacks()
    }
  }

  private checkRollbacks(): void {
    if (this.outstanding.length === 0) return
    const now = nowMicros()
    const left: typeof this.outstanding = []
    for (const o of this.outstanding) {
      if (!o.item.deleted) {
        left.push(o)
        continue
      }
      if (o.first) this.stats.firstRollbackLatency.record(Math.max(1, now - o.ts))
      if (this.stats.inWindow(o.ts)) {
        this.stats.rolledBack++
        this.stats.rollbackLatency.record(Math.max(1, now - o.ts))
      }
    }
    this.outstanding = left
  }
}
