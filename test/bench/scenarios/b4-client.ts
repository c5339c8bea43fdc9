/**
 * Scenario 9 (B4), the client side: stock Yjs clients in one process of their own. Each
 * client is a `ws` WebSocket and a real `Y.Doc` speaking the y-protocols sync messages as
 * y-websocket sends them (step 1 on open, step 2 in reply to the server's step 1, an update
 * message per local transaction), with a random 32-bit clientID; for Hocuspocus each message
 * carries the document name and the first is an auth message (lib/framing.ts).
 *
 * The trace (../shared/realworld/automerge-paper.json.gz) is one writer's text editing:
 * every patch inserts or deletes at least one character, so after transaction k the
 * writer's clock (characters it inserted, `Y.getState`) and its deleted count (clock minus
 * text length) never both stay the same. A receiver holds transaction k once its clock and
 * deleted count have both reached the writer's after k: that is how acknowledgements
 * (replay) and receipt times (typing) are found, without anything added to the document.
 *
 * Modes:
 *  - replay: the whole trace in `txnSize`-edit transactions, sent as fast as the receivers
 *    acknowledge (at most `inFlight` unacknowledged); server CPU from /proc for the replay,
 *    time until every receiver's text equals the trace's end; then `joins` fresh clients in
 *    turn, each timed from connect until its text equals the end.
 *  - join: `joins` fresh clients in turn, timed as above (a room the replay left behind).
 *  - typing: the trace's first `edits` patches, one per transaction at `hz`, to `receivers`
 *    receivers; write → receipt latency.
 * A receiver whose text differs from the writer's at the end fails the run (exit code 1).
 */
import { gunzipSync } from 'node:zlib'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { randomBytes } from 'node:crypto'
import WebSocket from 'ws'
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import * as syncProtocol from 'y-protocols/sync'
import { cpuTimes } from '../lib/proc.js'
import type { Flavor } from '../lib/framing.js'

export const TRACE = join(import.meta.dirname, '..', '..', '..', '..', 'shared', 'realworld', 'automerge-paper.json.gz')

export interface Trace {
  startContent: string
  endContent: string
  txns: Array<{ patches: Array<[number, number, string]> }>
}

export function loadTrace(): Trace {
  return JSON.parse(gunzipSync(readFileSync(TRACE)).toString('utf8')) as Trace
}

interface Common {
  flavor: Flavor
  port: number
  room: string
}

export interface ReplayJob extends Common {
  mode: 'replay'
  serverPid: number
  txnSize: number
  receivers: number
  inFlight: number
  joins: number
}

export interface TypingJob extends Common {
  mode: 'typing'
  edits: number
  hz: number
  receivers: number
  /** Edits at the start left out of the latency figures (connections warming up). */
  warmupEdits: number
}

/** Fresh clients in turn, each until its text equals the trace's end (then it leaves). */
export interface JoinJob extends Common {
  mode: 'join'
  joins: number
}

export type Job = ReplayJob | TypingJob | JoinJob

export interface ReplayResult {
  edits: number
  txns: number
  finalChars: number
  /** Bytes of the writer's update messages (Yjs updates as sent). */
  updateBytes: number
  /** Server CPU from the first send until every receiver converged, seconds (user + system). */
  cpuSec: number
  cpuSystemSec: number
  /** First send → every receiver's text equals the trace's end. */
  convergeMs: number
  /** Cold joins, each connect → text equals the end (ms). */
  joinsMs: number[]
}

export interface TypingResult {
  edits: number
  samples: number
  p50: number
  p99: number
  max: number
  /** Writes the writer sent later than due by more than one interval (its own lag). */
  lateWrites: number
}

const MESSAGE_SYNC = 0
const MESSAGE_AUTH = 2
const HOCUSPOCUS_SYNC_REPLY = 4

/** A random 32-bit clientID, as a browser's Yjs picks (Y.Doc's own default is 30-bit). */
const randomClientId = () => randomBytes(4).readUInt32LE(0) >>> 0

/** One stock client: a Y.Doc synced over a `ws` socket the way y-websocket does it. */
class Client {
  readonly doc = new Y.Doc()
  readonly text: Y.Text
  private ws!: WebSocket
  private synced = false
  private waiters: Array<() => void> = []
  onMessage: () => void = () => {}
  closed = false

  constructor(
    private readonly job: Common,
    clientId = randomClientId(),
  ) {
    this.doc.clientID = clientId
    this.text = this.doc.getText('text')
    this.doc.on('update', (update: Uint8Array, origin: unknown) => {
      if (origin === this) return
      const enc = this.start()
      encoding.writeVarUint(enc, MESSAGE_SYNC)
      syncProtocol.writeUpdate(enc, update)
      this.send(encoding.toUint8Array(enc))
    })
  }

  private start(): encoding.Encoder {
    const enc = encoding.createEncoder()
    if (this.job.flavor === 'hocuspocus') encoding.writeVarString(enc, this.job.room)
    return enc
  }

  private send(msg: Uint8Array): void {
    if (this.ws.readyState !== WebSocket.OPEN) throw new Error(`client ${this.doc.clientID}: socket not open`)
    this.ws.send(msg)
  }

  connect(): Promise<void> {
    const path = this.job.flavor === 'hocuspocus' ? '/' : `/${encodeURIComponent(this.job.room)}`
    this.ws = new WebSocket(`ws://127.0.0.1:${this.job.port}${path}`)
    this.ws.binaryType = 'nodebuffer'
    this.ws.on('message', (data: Buffer) => this.receive(data))
    this.ws.on('close', () => {
      this.closed = true
    })
    return new Promise((resolve, reject) => {
      this.ws.once('error', reject)
      this.ws.once('open', () => {
        this.ws.off('error', reject)
        this.ws.on('error', (err) => process.stderr.write(`b4 client ${this.doc.clientID}: ${err.message}\n`))
        if (this.job.flavor === 'hocuspocus') {
          const auth = this.start()
          encoding.writeVarUint(auth, MESSAGE_AUTH)
          encoding.writeVarUint(auth, 0)
          encoding.writeVarString(auth, 'bench-token')
          this.send(encoding.toUint8Array(auth))
        }
        const step1 = this.start()
        encoding.writeVarUint(step1, MESSAGE_SYNC)
        syncProtocol.writeSyncStep1(step1, this.doc)
        this.send(encoding.toUint8Array(step1))
        resolve()
      })
    })
  }

  private receive(data: Buffer): void {
    const dec = decoding.createDecoder(data)
    if (this.job.flavor === 'hocuspocus') decoding.readVarString(dec)
    const type = decoding.readVarUint(dec)
    if (type === MESSAGE_SYNC || (this.job.flavor === 'hocuspocus' && type === HOCUSPOCUS_SYNC_REPLY)) {
      const reply = this.start()
      encoding.writeVarUint(reply, MESSAGE_SYNC)
      const empty = encoding.length(reply)
      const kind = syncProtocol.readSyncMessage(dec, reply, this.doc, this)
      if (type === MESSAGE_SYNC && encoding.length(reply) > empty) this.send(encoding.toUint8Array(reply))
      if (kind === syncProtocol.messageYjsSyncStep2 && !this.synced) {
        this.synced = true
        for (const w of this.waiters.splice(0)) w()
      }
      this.onMessage()
    }
    // Awareness, auth replies and Hocuspocus's sync-status acknowledgements are not needed here.
  }

  /** Resolves once the server's sync step 2 has been applied. */
  whenSynced(timeoutMs = 30_000): Promise<void> {
    if (this.synced) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`client ${this.doc.clientID}: no sync step 2 in ${timeoutMs} ms`)), timeoutMs)
      this.waiters.push(() => {
        clearTimeout(t)
        resolve()
      })
    })
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve()
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.ws.terminate()
        resolve()
      }, 2000)
      this.ws.once('close', () => {
        clearTimeout(t)
        resolve()
      })
      this.ws.close()
    })
  }
}

function applyPatches(text: Y.Text, patches: Array<[number, number, string]>): void {
  for (const [pos, del, ins] of patches) {
    if (del > 0) text.delete(pos, del)
    if (ins.length > 0) text.insert(pos, ins)
  }
}

/**
 * The writer's progress marks: after transaction k its clock and deleted count. A receiver
 * holds every transaction up to the last mark that its own clock and deleted count reach.
 */
class Progress {
  readonly clock: number[] = []
  readonly deleted: number[] = []

  constructor(private readonly writer: Client) {}

  mark(): void {
    const c = Y.getState(this.writer.doc.store, this.writer.doc.clientID)
    this.clock.push(c)
    this.deleted.push(c - this.writer.text.length)
  }

  /** Advances `held` (index of the last transaction received, -1 for none) for `receiver`. */
  advance(receiver: Client, held: number): number {
    const c = Y.getState(receiver.doc.store, this.writer.doc.clientID)
    const d = c - receiver.text.length
    while (held + 1 < this.clock.length && this.clock[held + 1] <= c && this.deleted[held + 1] <= d) held++
    return held
  }
}

function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]
}

const cpu = (pid: number) => {
  const t = cpuTimes(pid)
  return { total: t.user + t.system, system: t.system }
}

async function connected(job: Common, n: number): Promise<Client[]> {
  const clients = Array.from({ length: n }, () => new Client(job))
  await Promise.all(clients.map((c) => c.connect()))
  await Promise.all(clients.map((c) => c.whenSynced()))
  return clients
}

function check(client: Client, expected: string, what: string): void {
  const got = client.text.toString()
  if (got !== expected) {
    let i = 0
    while (i < got.length && got[i] === expected[i]) i++
    throw new Error(`${what}: text differs from the expected one (${got.length} vs ${expected.length} chars, first difference at ${i})`)
  }
}

/** `n` fresh clients one after the other: connect → text equals `end`, ms each. */
async function coldJoins(job: Common, n: number, end: string): Promise<number[]> {
  const joinsMs: number[] = []
  for (let j = 0; j < n; j++) {
    const c = new Client(job)
    const started = performance.now()
    const done = new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`cold join ${j + 1}: text not complete in 60 s (${c.text.length} chars)`)), 60_000)
      c.onMessage = () => {
        if (c.text.length === end.length && c.text.toString() === end) {
          clearTimeout(t)
          resolve()
        }
      }
    })
    await c.connect()
    await done
    joinsMs.push(performance.now() - started)
    await c.close()
  }
  return joinsMs
}

async function replay(job: ReplayJob): Promise<ReplayResult> {
  const trace = loadTrace()
  const [writer, ...receivers] = await connected(job, 1 + job.receivers)
  const progress = new Progress(writer)
  const held = receivers.map(() => -1)
  let wake: (() => void) | null = null
  let converged: (() => void) | null = null
  const end = trace.endContent
  const allDone = () => held.every((h) => h === progress.clock.length - 1) && receivers.every((r) => r.text.length === end.length)
  receivers.forEach((r, i) => {
    r.onMessage = () => {
      held[i] = progress.advance(r, held[i])
      if (wake) {
        const w = wake
        wake = null
        w()
      }
      if (converged && allDone()) converged()
    }
  })
  let updateBytes = 0
  writer.doc.on('update', (u: Uint8Array, origin: unknown) => {
    if (origin !== writer) updateBytes += u.length
  })
  const txns: Trace['txns'][] = []
  if (trace.startContent) txns.push([{ patches: [[0, 0, trace.startContent]] }])
  for (let i = 0; i < trace.txns.length; i += job.txnSize) txns.push(trace.txns.slice(i, i + job.txnSize))

  const cpu0 = cpu(job.serverPid)
  const t0 = performance.now()
  for (const group of txns) {
    while (progress.clock.length - 1 - Math.min(...held) >= job.inFlight) {
      await new Promise<void>((resolve) => (wake = resolve))
    }
    writer.doc.transact(() => {
      for (const t of group) applyPatches(writer.text, t.patches)
    })
    progress.mark()
  }
  if (!allDone()) {
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`receivers did not converge in 120 s (held ${held.join(', ')} of ${progress.clock.length})`)), 120_000)
      converged = () => {
        clearTimeout(t)
        resolve()
      }
    })
  }
  const convergeMs = performance.now() - t0
  const cpu1 = cpu(job.serverPid)
  check(writer, end, 'writer')
  receivers.forEach((r, i) => check(r, end, `receiver ${i + 1}`))

  const joinsMs = await coldJoins(job, job.joins, end)
  await Promise.all([writer, ...receivers].map((c) => c.close()))
  const edits = trace.txns.reduce((n, t) => n + t.patches.length, 0)
  return {
    edits,
    txns: txns.length,
    finalChars: end.length,
    updateBytes,
    cpuSec: cpu1.total - cpu0.total,
    cpuSystemSec: cpu1.system - cpu0.system,
    convergeMs,
    joinsMs,
  }
}

async function typing(job: TypingJob): Promise<TypingResult> {
  const trace = loadTrace()
  const patches = trace.txns.slice(0, job.edits)
  const [writer, ...receivers] = await connected(job, 1 + job.receivers)
  const progress = new Progress(writer)
  const sentAt: number[] = []
  const held = receivers.map(() => -1)
  const latencies: number[] = []
  let finished: (() => void) | null = null
  receivers.forEach((r, i) => {
    r.onMessage = () => {
      const before = held[i]
      held[i] = progress.advance(r, before)
      const now = performance.now()
      for (let k = before + 1; k <= held[i]; k++) if (k >= job.warmupEdits) latencies.push(now - sentAt[k])
      if (finished && held.every((h) => h === patches.length - 1)) finished()
    }
  })
  const interval = 1000 / job.hz
  let lateWrites = 0
  const t0 = performance.now()
  let k = 0
  while (k < patches.length) {
    const due = t0 + k * interval
    const wait = due - performance.now()
    if (wait > 0) await new Promise((r) => setTimeout(r, wait))
    // A late timer sends every edit that fell due, each its own transaction.
    while (k < patches.length && t0 + k * interval <= performance.now()) {
      if (performance.now() - (t0 + k * interval) > interval) lateWrites++
      sentAt[k] = performance.now()
      writer.doc.transact(() => applyPatches(writer.text, patches[k].patches))
      progress.mark()
      k++
    }
  }
  if (!held.every((h) => h === patches.length - 1)) {
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`typing: receivers did not receive every edit in 10 s (held ${held.join(', ')} of ${patches.length})`)), 10_000)
      finished = () => {
        clearTimeout(t)
        resolve()
      }
    })
  }
  const expected = writer.text.toString()
  receivers.forEach((r, i) => check(r, expected, `typing receiver ${i + 1}`))
  await Promise.all([writer, ...receivers].map((c) => c.close()))
  return {
    edits: patches.length,
    samples: latencies.length,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: Math.max(...latencies),
    lateWrites,
  }
}

if (process.argv[1] === import.meta.filename) {
  // One job, or several run one after the other (one process start for them all): results alike.
  const arg = JSON.parse(process.argv[2]) as Job | Job[]
  const runOne = (job: Job) => (job.mode === 'replay' ? replay(job) : job.mode === 'typing' ? typing(job) : coldJoins(job, job.joins, loadTrace().endContent))
  const run = Array.isArray(arg)
    ? (async () => {
        const out: unknown[] = []
        for (const job of arg) out.push(await runOne(job))
        return out
      })()
    : runOne(arg)
  run.then(
    (r) => {
      console.log(JSON.stringify(r))
      process.exit(0)
    },
    (err: unknown) => {
      process.stderr.write(`b4-client: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
      process.exit(1)
    },
  )
}
