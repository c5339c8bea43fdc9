/**
 * What an authority sends to connections on other nodes, gathered per node and written to
 * each node's output stream at the end of the event-loop turn, with the rooms' committed
 * input cursors: one Redis pipeline per turn for every room whose tick ran in it. A tick's
 * broadcast is one frame for every connection: consecutive sends of the same frame to one
 * node's connections become one entry, so the relay costs O(nodes) per tick, not
 * O(connections).
 */
import type { Redis } from 'ioredis'
import { keys, Output } from './keys.js'

interface Entry {
  room: string
  kind: string
  conns: number[]
  data: Buffer
}

/** Output streams keep about this many entries: a node further behind resyncs (gap). */
const OUTPUT_MAXLEN = 100_000

/** A room's input stream is trimmed to its committed cursor at most this often. */
const INPUT_TRIM_MS = 1000

export class Outbox {
  private pending = new Map<string, Entry[]>()
  /** Committed input cursors to store, by room (the latest wins). */
  private cursors = new Map<string, string>()
  /** When each room's input stream was last trimmed (performance.now()). */
  private trimmedAt = new Map<string, number>()
  /** Last sequence number sent, per room and node: relays detect gaps by it. */
  private seqs = new Map<string, number>()
  private scheduled = false
  /** Entries written, for metrics. */
  written = 0

  constructor(
    private redis: Redis,
    /** The epoch this node holds the room under, or undefined (then nothing is sent). */
    private epochOf: (room: string) => number | undefined,
    private onError: (err: unknown) => void,
  ) {}

  frame(node: string, room: string, conn: number, frame: Buffer): void {
    const list = this.listOf(node)
    const last = list[list.length - 1]
    if (last && last.data === frame && last.room === room && last.kind === Output.FRAME) last.conns.push(conn)
    else list.push({ room, kind: Output.FRAME, conns: [conn], data: frame })
  }

  close(node: string, room: string, conn: number, code: number, reason: string): void {
    this.listOf(node).push({ room, kind: Output.CLOSE, conns: [conn], data: Buffer.from(JSON.stringify({ code, reason })) })
  }

  /** The room's input is stored up to `position`: a later authority starts after it. */
  cursor(room: string, position: string): void {
    this.cursors.set(room, position)
    this.schedule()
  }

  private listOf(node: string): Entry[] {
    let list = this.pending.get(node)
    if (!list) this.pending.set(node, (list = []))
    this.schedule()
    return list
  }

  private schedule(): void {
    if (this.scheduled) return
    this.scheduled = true
    setImmediate(() => this.flush())
  }

  private flush(): void {
    this.scheduled = false
    const pipeline = this.redis.pipeline()
    const now = performance.now()
    for (const [room, position] of this.cursors) {
      pipeline.set(keys.cursor(room), position)
      if (now - (this.trimmedAt.get(room) ?? 0) > INPUT_TRIM_MS) {
        this.trimmedAt.set(room, now)
        pipeline.xtrim(keys.input(room), 'MINID', position)
      }
    }
    this.cursors.clear()
    for (const [node, entries] of this.pending) {
      for (const e of entries) {
        const epoch = this.epochOf(e.room)
        // Fenced: a node that lost the room's lease says nothing more about it.
        if (epoch === undefined) continue
        const key = `${e.room}\u0000${node}`
        const seq = (this.seqs.get(key) ?? 0) + 1
        this.seqs.set(key, seq)
        pipeline.xadd(keys.output(node), 'MAXLEN', '~', OUTPUT_MAXLEN, '*', 'r', e.room, 'e', String(epoch), 's', String(seq), 'c', e.conns.join(','), 'k', e.kind, 'd', e.data)
        this.written++
      }
    }
    this.pending.clear()
    pipeline.exec().catch(this.onError)
  }

  /** Forgets a room's sequence numbers and trim time (it is no longer held here). */
  forget(room: string): void {
    this.trimmedAt.delete(room)
    const prefix = `${room}\u0000`
    for (const k of this.seqs.keys()) if (k.startsWith(prefix)) this.seqs.delete(k)
  }
}
