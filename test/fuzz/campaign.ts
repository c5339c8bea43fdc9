/**
 * A fuzzing campaign against a real `yroom serve` (issue 19): attacker connections send
 * structure-aware mutations of valid frames and Yjs updates while honest stock clients, in
 * the attacked room and in another, own models and edit them. The oracle:
 *   - the server process stays alive, and logs no error;
 *   - an owned model only ever holds what its owner wrote, as every honest replica sees it
 *     after each transaction; once the room is quiet it equals the owner's record exactly;
 *   - honest replicas converge, and a fresh late joiner (the server's state) equals them;
 *   - the server keeps answering (a late joiner syncs, /healthz answers, within deadlines);
 *   - its RSS stays under a bound; no awareness state outlives its connection;
 *   - after a restart (SIGTERM or SIGKILL) owned models hold what their owners wrote.
 * What it sends is a function of the seed (mulberry32): frames are generated in a fixed
 * order from two streams (attackers, honest edits) interleaved by iteration count.
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import WebSocket from 'ws'
import * as Y from 'yjs'
import { connectProvider, mulberry32, type ProviderClient } from '../helpers.js'
import { awarenessFrame, helloFrame, miscFrame, requestFrame, syncFrame, syncStep1Frame, type Frame } from './frames.js'
import {
  bigValueUpdate,
  chance,
  deepUpdate,
  DEPTHS,
  freshUpdate,
  int,
  pick,
  pickClient,
  randomKnownId,
  randomTypeItemId,
  viewUpdate,
  weighted,
  type IdPool,
  type Rng,
} from './gen.js'
import { canonical, describeDifference, HonestClient, sameState, structuralDifference, type OwnedRecord } from './honest.js'
import { mutateBytes, mutateStructure, type MutationContext } from './mutate.js'
import { freePort, ServerProcess } from './server-process.js'
import { describeMessage, encodeUpdate, parseUpdate, rebaseClient, sectionEnd, Writer } from './v1.js'

export interface CampaignOptions {
  seed: number
  /** Stop starting new work after this long (the last checkpoint and restart check still run). */
  seconds: number
  /** Attack iterations between checkpoints (or `checkpointMs`, whichever comes first). */
  checkpointEvery?: number
  checkpointMs?: number
  /** Checkpoints per epoch; an epoch ends with a restart of the server and a check of what it stored. */
  checkpointsPerEpoch?: number
  /** Attacker connections in the attacked room (one more roams, one is in the other room). */
  attackers?: number
  /** Frames per second per attacker connection (the server allows 300, burst 1000). */
  framesPerSecond?: number
  rssLimitMb?: number
  /**
   * How often an update under an id the attacker wrote under before restarts at that id's
   * clock 0 (a section overlapping what the server has) instead of continuing after it.
   */
  overlapRate?: number
  /** Print a progress line every this many ms (0: never). */
  progressMs?: number
  log?: (line: string) => void
  /** Where findings' frames are written (JSON, hex). */
  outDir?: string
}

export interface SentFrame {
  iteration: number
  slot: number
  /** Which of the slot's connections sent it (a replay opens one socket per connection). */
  conn?: number
  room: string
  note: string
  bytes: Uint8Array | string
}

export interface Finding {
  kind: string
  message: string
  seed: number
  iteration: number
  epoch: number
  /** Times this signature was seen in the campaign. */
  count: number
  frames: SentFrame[]
  file?: string
}

export interface CampaignResult {
  seed: number
  seconds: number
  iterations: number
  framesSent: number
  bytesSent: number
  framesPerSecond: number
  reconnects: number
  epochs: number
  checkpoints: number
  restarts: number
  maxRssMb: number
  maxProbeMs: number
  serverWarnings: number
  findings: Finding[]
}

/**
 * What makes two findings the same: the kind and the first line of the message with names,
 * numbers, quoted values and paths taken out (one bug seen in many models is one finding).
 */
export function signatureOf(kind: string, message: string): string {
  let line = message.split('\n')[0]
  const logged = /"msg":"([^"]*)"/.exec(line)
  const err = /"message":"([^"]{0,80})/.exec(line)
  const at = /\\n\s+at (?:new |async )?([\w.<>]+)/.exec(line)
  if (logged || err) line = `${logged?.[1] ?? ''} ${err?.[1] ?? ''}${at ? ` at ${at[1]}` : ''}`
  line = line
    .replace(/^.*? observed: /, '')
    .replace(/^.*?, quiet: /, '')
    .replace(/"(?:[^"\\]|\\.)*"/g, '…')
    .replace(/models\/[^\s:]+/g, 'M')
    .replace(/fz[\w-]+/g, 'R')
    .replace(/\b[a-b]\d\b/g, 'H')
    .replace(/\{.*?\}/g, '{…}')
    .replace(/\d+/g, 'N')
  return `${kind}:${line.slice(0, 120)}`
}

/** The last messages an honest client sent and received, decoded, for a report. */
function honestTraffic(h: HonestClient): string {
  const sent = h.sent.map((m) => `\n    it sent: ${describeMessage(m)}`)
  const got = h.received.slice(-2).map((m) => `\n    it got: ${describeMessage(m)}`)
  return sent.join('') + got.join('')
}

/** A doc's state vector straight from its store (no encode/decode round trip). */
function stateVectorOf(doc: Y.Doc): Map<number, number> {
  const sv = new Map<number, number>()
  for (const [client, structs] of doc.store.clients) {
    const last = structs[structs.length - 1]
    if (last) sv.set(client, last.id.clock + last.length)
  }
  return sv
}

/**
 * How recent an owner's write must be to have crossed a rollback on the wire, and how long
 * it may take to be forwarded (see watch). Generous: a loaded machine (a parallel test run)
 * delays messages by seconds.
 */
const CROSSING_MS = 5000
const HEAL_MS = 5000

const hex = (b: Uint8Array | string): string => (typeof b === 'string' ? `text:${JSON.stringify(b)}` : Buffer.from(b).toString('hex'))
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/** Resolves true when `check()` holds within `timeout` ms, else false. */
async function waitFor(check: () => boolean, timeout: number): Promise<boolean> {
  const end = Date.now() + timeout
  for (;;) {
    let ok = false
    try {
      ok = check()
    } catch {
      ok = false
    }
    if (ok) return true
    if (Date.now() > end) return false
    await sleep(20)
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let t: NodeJS.Timeout | undefined
  return Promise.race([p, new Promise<'timeout'>((r) => (t = setTimeout(() => r('timeout'), ms)))]).finally(() => clearTimeout(t))
}

/** An attacker connection slot: its socket, the client id it writes under, its view of the room. */
interface Slot {
  index: number
  /** 'a' / 'b': the epoch's attacked / other room; 'roam': a random room each connection. */
  home: 'a' | 'b' | 'roam'
  room: string
  id: number
  ws: WebSocket | null
  open: Promise<boolean> | null
  view: Y.Doc | null
  viewRoom: string
  viewApplied: number
  viewUses: number
  tokens: number
  lastRefill: number
  /** Its own stream for connection choices (room, id): reconnects happen when the server closes it. */
  rng: Rng
  /** Per client id it wrote under: the next clock it has not used yet. */
  next: Map<number, number>
  /** Number of its current connection (campaign-wide). */
  conn: number
  /** Clocks the current view's own items are moved on by (its doc starts at clock 0). */
  viewDelta: number
}

interface RoomState {
  name: string
  honest: HonestClient[]
  /** Honest clients' own updates, in order: the deterministic part of the room the attackers see. */
  shadow: Y.Doc
  shadowLog: Uint8Array[]
}

interface Epoch {
  index: number
  rooms: { a: RoomState; b: RoomState }
  /** Set when a finding left the epoch's state unusable (it ends at once, without a restart check). */
  broken: boolean
}

export async function runCampaign(options: CampaignOptions): Promise<CampaignResult> {
  const o = {
    checkpointEvery: 3000,
    checkpointMs: 10_000,
    checkpointsPerEpoch: 5,
    attackers: 4,
    framesPerSecond: 200,
    rssLimitMb: 400,
    overlapRate: 0.2,
    progressMs: 10_000,
    log: (line: string) => console.log(line),
    outDir: join(tmpdir(), `yroom-fuzz-${options.seed}-${process.pid}`),
    ...(Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as CampaignOptions),
  }
  const log = o.log
  const rng = mulberry32(o.seed)
  const hrng = mulberry32((o.seed ^ 0x5bd1e995) >>> 0)
  const started = Date.now()
  const deadline = started + o.seconds * 1000
  const dataDir = mkdtempSync(join(tmpdir(), 'yroom-fuzz-data-'))
  mkdirSync(o.outDir, { recursive: true })
  const server = new ServerProcess(await freePort(), dataDir)
  await server.start()

  const time = { gen: 0, open: 0, pace: 0, send: 0, yield: 0 }
  const stats = { iterations: 0, framesSent: 0, bytesSent: 0, reconnects: 0, epochs: 0, checkpoints: 0, restarts: 0, maxRssMb: 0, maxProbeMs: 0 }
  const findings = new Map<string, Finding>()
  const recent: SentFrame[] = []
  let epochFrames: SentFrame[] = []
  let epochBytes = 0
  let problemsSeen = 0
  let epoch: Epoch | null = null
  const oldRooms: string[] = []
  /** Client ids of the checkpoints' late joiners (an awareness leak may be one of them). */
  const pastJoiners = new Set<number>()

  // ---- findings ----

  /** Replicas whose state a finding's file keeps (the checkpoint's late joiner and the honest clients). */
  let docsForReport: Record<string, Y.Doc> = {}

  function report(kind: string, message: string, frames: SentFrame[] = recent.slice(-12), breaks = true): void {
    if (breaks && epoch) epoch.broken = true
    const signature = signatureOf(kind, message)
    const known = findings.get(signature)
    if (known) {
      known.count++
      // The first few again get a file of their own: one bug shows in several shapes.
      const file = known.count <= 5 && known.file ? writeFinding(known.file.replace(/\.json$/, `-${known.count}.json`), kind, message, frames) : undefined
      log(`finding again [${kind}] at iteration ${stats.iterations} (seen ${known.count}×): ${message.split('\n')[0].slice(0, 200)}${file ? ` (${file})` : ''}`)
      return
    }
    const f: Finding = { kind, message, seed: o.seed, iteration: stats.iterations, epoch: epoch?.index ?? -1, count: 1, frames }
    findings.set(signature, f)
    f.file = writeFinding(join(o.outDir, `finding-${findings.size}.json`), kind, message, frames)
    const lines = [`FINDING #${findings.size} [${kind}] seed=${o.seed} iteration=${f.iteration} epoch=${f.epoch}`, `  ${message.split('\n').join('\n  ')}`, `  frames before it (oldest first; replay: npm run fuzz -- --seed ${o.seed}):`]
    for (const s of frames) {
      const h = hex(s.bytes)
      lines.push(`    #${s.iteration} slot ${s.slot} room ${s.room.slice(0, 40)} ${s.note} [${s.bytes.length} B] ${h.length > 400 ? `${h.slice(0, 400)}…` : h}`)
    }
    if (f.file) lines.push(`  the epoch's frames (the last 12,000 at most; replay: node --import tsx test/fuzz/replay.ts FILE): ${f.file}`)
    log(lines.join('\n'))
  }

  /** Writes a finding's file: its frames, the epoch's frames and the replicas' states. Returns its path, if written. */
  function writeFinding(file: string, kind: string, message: string, frames: SentFrame[]): string | undefined {
    // Bounded: the frames since the last checkpoint can be tens of MB.
    const dump: SentFrame[] = []
    let dumpBytes = 0
    for (let i = epochFrames.length - 1; i >= 0 && dump.length < 12_000 && dumpBytes < 8 * 1024 * 1024; i--) {
      dump.unshift(epochFrames[i])
      dumpBytes += epochFrames[i].bytes.length
    }
    try {
      writeFileSync(
        file,
        JSON.stringify(
          {
            kind,
            message,
            seed: o.seed,
            iteration: stats.iterations,
            epoch: epoch?.index ?? -1,
            frames: frames.map((s) => ({ ...s, bytes: hex(s.bytes), length: s.bytes.length })),
            epochFrames: dump.map((s) => ({ ...s, bytes: hex(s.bytes) })),
            // Each replica's state as it encodes it, to compare offline (Y.applyUpdate into a fresh doc).
            docs: Object.fromEntries(Object.entries(docsForReport).map(([name, d]) => [name, hex(Y.encodeStateAsUpdate(d))])),
          },
          null,
          1,
        ),
      )
      return file
    } catch {
      return undefined
    }
  }

  function checkServerProblems(): void {
    while (problemsSeen < server.problems.length) {
      const p = server.problems[problemsSeen++]
      report('server-log', `${p.source}: ${p.text.slice(0, 1500)}`, recent.slice(-12), false)
    }
  }

  async function checkAlive(): Promise<boolean> {
    if (server.alive) return true
    // Let its last output arrive.
    await sleep(200)
    checkServerProblems()
    report('crash', `server exited with ${server.exitCode}\n${server.tail()}`)
    return false
  }

  async function restartAfterCrash(): Promise<void> {
    stats.restarts++
    try {
      await server.start()
    } catch (err) {
      report('restart-failed', `server does not start again on its data: ${(err as Error).message.slice(0, 1500)}`)
      // Go on with a fresh data directory so the campaign continues.
      rmSync(server.dataDir, { recursive: true, force: true })
      mkdirSync(server.dataDir, { recursive: true })
      await server.start()
    }
  }

  // ---- honest clients' own errors: y-protocols logs an update it could not apply ----

  const consoleError = console.error
  console.error = (...args: unknown[]) => {
    if (typeof args[0] === 'string' && args[0].startsWith('Caught error while handling a Yjs update') && epoch) {
      const err = args[1] as Error | undefined
      const got = [...epoch.rooms.a.honest, ...epoch.rooms.b.honest]
        .filter((h) => h.received.length > 0)
        .map((h) => `\n    last sent to ${h.name}: ${describeMessage(h.received[h.received.length - 1])}\n      ${Buffer.from(h.received[h.received.length - 1]).toString('hex').slice(0, 1200)}`)
      report('honest-client-error', `a stock client could not apply what the server sent: ${err?.stack?.split('\n').slice(0, 3).join(' ') ?? String(err)}${got.join('')}`)
      return
    }
    consoleError(...args)
  }

  // ---- probes: /healthz latency and RSS, in the background ----

  let probing = true
  const probeLoop = (async () => {
    while (probing) {
      await sleep(2000)
      if (!server.alive || !probing) continue
      const t0 = Date.now()
      try {
        const res = await fetch(`http://127.0.0.1:${server.port}/healthz`, { signal: AbortSignal.timeout(10_000) })
        await res.text()
      } catch {
        // timed out, or the server is restarting
      }
      const ms = Date.now() - t0
      if (!server.alive || !probing) continue
      stats.maxProbeMs = Math.max(stats.maxProbeMs, ms)
      if (ms > 5000) report('unresponsive', `/healthz took ${ms} ms`, recent.slice(-12), false)
      const rss = server.rssMb()
      stats.maxRssMb = Math.max(stats.maxRssMb, rss)
      if (rss > o.rssLimitMb) report('rss', `server RSS ${rss.toFixed(0)} MB over ${o.rssLimitMb} MB`, recent.slice(-12), false)
    }
  })()

  // ---- honest rooms ----

  async function makeRoom(name: string, count: number, ids: number[]): Promise<RoomState> {
    const shadow = new Y.Doc({ gc: false })
    const state: RoomState = { name, honest: [], shadow, shadowLog: [] }
    for (let i = 0; i < count; i++) {
      const h = new HonestClient(`${name.endsWith('a') ? 'a' : 'b'}${i}`, ids[i], name)
      await h.connect(server.url)
      const provider = h.client.provider
      h.doc.on('update', (u: Uint8Array, origin: unknown) => {
        if (origin === provider) return
        // In the frame log too (not counted as sent): attacks refer to these items.
        record({ iteration: stats.iterations, slot: -1, room: name, note: `honest ${h.name} update (sent by its provider)`, bytes: u })
        state.shadowLog.push(u)
        Y.applyUpdate(shadow, u, 'shadow')
      })
      state.honest.push(h)
    }
    state.honest.forEach((h, i) => h.createModels(i === 0))
    for (const observer of state.honest) watch(observer, state)
    return state
  }

  /**
   * After each transaction of an honest replica: owned models hold only what their owners wrote.
   *
   * On the owner's own replica the model must equal the owner's record, with one exception:
   * an owner's write that crossed a rollback on the wire. The server re-created the model
   * from what it held before the write arrived (the rollback goes out at once), and forwards
   * the write to the copy once it arrives: the owner's replica lacks it for a moment. Such a
   * difference, on a model its owner wrote into in the last CROSSING_MS, is reported only if
   * it is still there HEAL_MS later (the owner's write was lost); any other at once.
   */
  function watch(h: HonestClient, room: RoomState): void {
    const seen = new Set<OwnedRecord>()
    const crossing = new Map<OwnedRecord, { since: number; first: string; epoch: Epoch }>()
    const fail = (problems: string[], got = h.received.slice(-3)) => {
      docsForReport = Object.fromEntries(room.honest.map((x) => [x.name, x.doc]))
      const sent = got.map((m) => `\n    server sent: ${describeMessage(m)}\n      ${Buffer.from(m).toString('hex').slice(0, 1200)}`)
      report('owned-model-changed', `${h.name} (${h.id}) in ${room.name} observed: ${problems.join('; ')}${sent.join('')}`)
      docsForReport = {}
    }
    const ownerProblems = (r: OwnedRecord) => r.checkExact(h.doc, true).filter((p) => !p.includes('$meta'))
    const recheck = (r: OwnedRecord) => {
      const c = crossing.get(r)
      if (!c || epoch !== c.epoch || c.epoch.broken || h.leaving) return
      const exact = ownerProblems(r)
      if (exact.length === 0) return void crossing.delete(r)
      // Still writing into it: another write may be crossing another rollback.
      if (Date.now() - r.lastWriteAt < CROSSING_MS && Date.now() - c.since < 4 * HEAL_MS) return void setTimeout(() => recheck(r), HEAL_MS)
      crossing.delete(r)
      fail([`owner's replica: ${exact.join('; ')} (still ${Date.now() - c.since} ms after the owner's replica first lacked its write: ${c.first})`])
    }
    h.doc.on('afterTransaction', () => {
      if (!epoch || epoch.broken) return
      if (h.doc.clientID !== h.id) report('identity', `${h.name}'s doc changed its client id from ${h.id} to ${h.doc.clientID}: someone wrote under its id`)
      for (const owner of room.honest) {
        for (const r of owner.records) {
          const problems = r.check(h.doc, seen.has(r))
          if (r.locate(h.doc).length > 0) seen.add(r)
          // The owner's own replica equals its record after every transaction: remote
          // changes to an owned model (restorations included) never change its content.
          if (problems.length === 0 && owner === h && !h.leaving) {
            const exact = ownerProblems(r)
            if (exact.length === 0) crossing.delete(r)
            else if (crossing.has(r)) continue
            else if (Date.now() - r.lastWriteAt < CROSSING_MS) {
              const c = { since: Date.now(), first: exact.join('; ').slice(0, 600), epoch }
              crossing.set(r, c)
              setTimeout(() => recheck(r), HEAL_MS)
            } else problems.push(...exact.map((p) => `owner's replica: ${p}`))
          }
          if (problems.length > 0) return fail(problems)
        }
      }
    })
  }

  function honestIds(): number[] {
    return epoch ? [...epoch.rooms.a.honest, ...epoch.rooms.b.honest].map((h) => h.id) : []
  }

  async function startEpoch(): Promise<Epoch> {
    const index = stats.epochs++
    epochFrames = []
    epochBytes = 0
    const ids = Array.from({ length: 6 }, () => (1 << 20) + int(hrng, 2 ** 31 - (1 << 20)))
    const a = await makeRoom(`fz${o.seed}-e${index}-a`, 3, ids.slice(0, 3))
    const b = await makeRoom(`fz${o.seed}-e${index}-b`, 2, ids.slice(3, 5))
    return { index, rooms: { a, b }, broken: false }
  }

  function endEpochClients(e: Epoch): void {
    for (const r of [e.rooms.a, e.rooms.b]) {
      for (const h of r.honest) h.destroy()
      r.shadow.destroy()
      oldRooms.push(r.name)
    }
  }

  // ---- attackers ----

  const slots: Slot[] = []
  const slotHomes: Array<Slot['home']> = [...Array.from({ length: o.attackers }, () => 'a' as const), 'b', 'roam']
  slotHomes.forEach((home, index) =>
    slots.push({
      index,
      home,
      room: '',
      id: 0,
      ws: null,
      open: null,
      view: null,
      viewRoom: '',
      viewApplied: 0,
      viewUses: 0,
      tokens: o.framesPerSecond,
      lastRefill: Date.now(),
      rng: mulberry32((o.seed + 0x9e3779b9 * (index + 1)) >>> 0),
      next: new Map(),
      viewDelta: 0,
      conn: 0,
    }),
  )

  function roomOf(slot: Slot): RoomState | null {
    if (!epoch) return null
    return slot.room === epoch.rooms.a.name ? epoch.rooms.a : slot.room === epoch.rooms.b.name ? epoch.rooms.b : null
  }

  /** Attackers reconnect as soon as the server closes them, except while the room is being checked. */
  let attacking = false

  function connect(slot: Slot): void {
    if (!epoch) return
    const rng = slot.rng
    if (slot.home === 'a') slot.room = epoch.rooms.a.name
    else if (slot.home === 'b') slot.room = epoch.rooms.b.name
    else {
      slot.room = weighted<() => string>(rng, [
        [30, () => epoch!.rooms.a.name],
        [15, () => epoch!.rooms.b.name],
        [20, () => `fz-roam-${int(rng, 20)}`],
        [15, () => (oldRooms.length ? pick(rng, oldRooms) : `fz-roam-${int(rng, 20)}`)],
        [10, () => `fz-fresh-${o.seed}-${stats.iterations}`],
        [5, () => 'r'.repeat(512)],
        [5, () => pick(rng, ['%E0%A4%A', '..%2F..%2Fetc', 'a%00b', 'r'.repeat(513), ''])],
      ])()
    }
    // A reconnect keeps its id (a stock client does) or takes a fresh one.
    if (slot.id === 0 || chance(rng, 0.5)) slot.id = weighted(rng, [[90, (1 << 20) + int(rng, 2 ** 32 - (1 << 20))], [10, pick(rng, [1, 2 ** 32 - 1, 2 ** 31])]])
    stats.reconnects++
    slot.conn = stats.reconnects
    const ws = new WebSocket(`${server.url}/${slot.room}`, { perMessageDeflate: false })
    ws.binaryType = 'nodebuffer'
    ws.on('message', () => {})
    ws.on('error', () => {})
    ws.on('close', () => {
      if (attacking && slot.ws === ws) connect(slot)
    })
    slot.ws = ws
    slot.open = new Promise<boolean>((resolve) => {
      ws.once('open', () => resolve(true))
      ws.once('close', () => resolve(false))
    })
  }

  async function closeAttackers(): Promise<void> {
    attacking = false
    await Promise.all(
      slots.map(async (s) => {
        const ws = s.ws
        s.ws = null
        s.open = null
        if (!ws || ws.readyState === WebSocket.CLOSED) return
        const closed = new Promise<void>((r) => ws.once('close', () => r()))
        if (ws.readyState === WebSocket.CONNECTING) ws.terminate()
        else ws.close()
        if ((await withTimeout(closed, 3000)) === 'timeout') ws.terminate()
      }),
    )
  }

  /** The attacker's own view: the room's honest content (deterministic), plus its own earlier edits. */
  function viewOf(slot: Slot): Y.Doc {
    const room = roomOf(slot)
    const roomName = room?.name ?? ''
    if (!slot.view || slot.viewRoom !== roomName || slot.view.clientID !== slot.id || slot.viewUses > 100) {
      slot.view?.destroy()
      slot.view = new Y.Doc({ gc: false })
      slot.view.clientID = slot.id
      slot.viewDelta = slot.next.get(slot.id) ?? 0
      slot.viewRoom = roomName
      slot.viewApplied = 0
      slot.viewUses = 0
    }
    slot.viewUses++
    if (room) {
      const log = room.shadowLog
      const view = slot.view
      try {
        view.transact(() => {
          for (; slot.viewApplied < log.length; slot.viewApplied++) Y.applyUpdate(view, log[slot.viewApplied], 'shadow')
        }, 'shadow')
      } catch {
        // the view was made inconsistent by its own edits: start over next time
        slot.viewApplied = log.length
        slot.viewUses = 1e9
      }
    }
    return slot.view
  }

  function poolOf(slot: Slot): IdPool {
    return { own: slot.id, otherAttackers: slots.filter((s) => s !== slot && s.id !== 0).map((s) => s.id), honest: honestIds() }
  }

  function mutationContext(slot: Slot, view: Y.Doc): MutationContext {
    const room = roomOf(slot)
    return {
      rng,
      pool: poolOf(slot),
      knownId: () => randomKnownId(rng, room && chance(rng, 0.7) ? room.shadow : view),
      typeItemId: () => randomTypeItemId(rng, view),
      stateVector: () => stateVectorOf(room ? room.shadow : view),
    }
  }

  /**
   * Continues the slot's own clocks: a fresh doc (or a new view) starts its client at clock
   * 0, which under an id the slot already wrote under makes a section that overlaps what the
   * server has. That happens on purpose at `overlapRate`; otherwise its ids are moved on.
   */
  function continueClocks(slot: Slot, update: Uint8Array, fromView: boolean): Uint8Array {
    let u
    try {
      u = parseUpdate(update)
    } catch {
      return update
    }
    const overlap = chance(rng, o.overlapRate)
    if (!overlap) {
      for (const s of u.sections) {
        if (s.client !== slot.id) continue
        rebaseClient(u, s.client, fromView ? slot.viewDelta : (slot.next.get(s.client) ?? 0))
        break
      }
    }
    for (const s of u.sections) {
      const end = sectionEnd(s)
      if (end > (slot.next.get(s.client) ?? 0)) slot.next.set(s.client, end)
    }
    return overlap ? update : encodeUpdate(u)
  }

  function viewEdits(slot: Slot, view: Y.Doc, pool: IdPool): Uint8Array | null {
    const u = viewUpdate(rng, view, pool)
    return u && continueClocks(slot, u, true)
  }

  function fresh(slot: Slot, pool: IdPool, client: number): Uint8Array {
    const u = continueClocks(slot, freshUpdate(rng, pool, client), false)
    // The view's next items would land on the clocks this one took: start a new view.
    if (client === slot.id) slot.viewUses = 1e9
    return u
  }

  /** A valid update: edits on the view (legal and illegal), or a fresh doc's state under some id. */
  function baseUpdate(slot: Slot, view: Y.Doc, pool: IdPool): Uint8Array {
    if (chance(rng, 0.7)) {
      const u = viewEdits(slot, view, pool)
      if (u) return u
    }
    return fresh(slot, pool, chance(rng, 0.7) ? pool.own : pickClient(rng, pool))
  }

  function updateFrame(update: Uint8Array, note: string): Frame {
    const f = syncFrame(chance(rng, 0.85) ? 2 : 1, update)
    return { ...f, note: `${f.note}: ${note}` }
  }

  /** Wraps a byte-mutated update: the mutation's varUint offsets are the update's, shifted by the header. */
  function byteMutatedUpdate(update: Uint8Array, varUints: number[], note: string): Frame {
    const m = mutateBytes(rng, update, varUints)
    return updateFrame(m.bytes, `${note}; ${m.note}`)
  }

  /** The frames of one attack iteration. */
  function attack(slot: Slot): Frame[] {
    const view = viewOf(slot)
    const pool = poolOf(slot)
    const kind = weighted(rng, [
      [22, 'view'],
      [15, 'structure'],
      [8, 'bytes'],
      [8, 'fresh'],
      [3, 'deep'],
      [1, 'big'],
      [7, 'step1'],
      [8, 'awareness'],
      [5, 'hello'],
      [5, 'request'],
      [6, 'misc'],
      [5, 'sequence'],
      [4, 'mixed'],
    ] as const)
    switch (kind) {
      case 'view': {
        const u = viewEdits(slot, view, pool) ?? fresh(slot, pool, pool.own)
        return [updateFrame(u, 'edits on the room (legal and illegal)')]
      }
      case 'structure': {
        const base = baseUpdate(slot, view, pool)
        const m = mutateStructure(mutationContext(slot, view), base)
        if (!m) return [updateFrame(base, 'unmutated')]
        if (chance(rng, 0.25)) return [byteMutatedUpdate(m.bytes, m.w.varUints, m.notes.join('; '))]
        return [updateFrame(m.bytes, m.notes.join('; ') || 'no-op mutation')]
      }
      case 'bytes': {
        const base = baseUpdate(slot, view, pool)
        let varUints: number[] = []
        try {
          const w = new Writer()
          encodeUpdate(parseUpdate(base), w)
          varUints = w.varUints
        } catch {
          // no varUint map: plain byte mutation
        }
        return [byteMutatedUpdate(base, varUints, 'valid update')]
      }
      case 'fresh':
        return [updateFrame(fresh(slot, pool, pickClient(rng, pool)), 'fresh doc state')]
      case 'deep': {
        const depth = pick(rng, DEPTHS)
        const d = deepUpdate(rng, view, pool, depth)
        const u = d && continueClocks(slot, d, true)
        // the view now holds the chain: start a new one next time
        slot.viewUses = 1e9
        if (!u) return []
        return [updateFrame(u, `nesting ${depth} deep`)]
      }
      case 'big': {
        const n = pick(rng, [1, 5, 20])
        const out: Frame[] = []
        for (let i = 0; i < n; i++) {
          const b = bigValueUpdate(rng, view, pool)
          const u = b && continueClocks(slot, b, true)
          if (u) out.push(updateFrame(u, 'large value over the same key'))
        }
        return out
      }
      case 'step1': {
        const room = roomOf(slot)
        const f = syncStep1Frame(rng, pool, stateVectorOf(room ? room.shadow : view))
        if (chance(rng, 0.2)) {
          const m = mutateBytes(rng, f.bytes as Uint8Array, f.varUints)
          return [{ bytes: m.bytes, note: `${f.note}; ${m.note}` }]
        }
        return [f]
      }
      case 'awareness': {
        const f = awarenessFrame(rng, pool)
        if (chance(rng, 0.15)) {
          const m = mutateBytes(rng, f.bytes as Uint8Array, f.varUints)
          return [{ bytes: m.bytes, note: `${f.note}; ${m.note}` }]
        }
        return [f]
      }
      case 'hello':
        return [helloFrame(rng, pool)]
      case 'request': {
        const value = weighted<() => Uint8Array>(rng, [
          [40, () => freshUpdate(rng, pool, pool.own)],
          [20, () => {
            // a skeleton / skd value: a scratch doc whose map holds deep or odd content
            const d = new Y.Doc()
            const root = d.getMap<unknown>(pick(rng, ['skeleton', 'skd']))
            const depth = pick(rng, [2, 50, 500, 3000])
            let cur = root
            for (let i = 0; i < depth; i++) {
              const next = new Y.Map<unknown>()
              cur.set(pick(rng, ['value', 'k', '$meta']), next)
              cur = next
            }
            cur.set('$meta', new Y.Map())
            const u = Y.encodeStateAsUpdate(d)
            d.destroy()
            return u
          }],
          [20, () => mutateStructure(mutationContext(slot, view), freshUpdate(rng, pool, pool.own))?.bytes ?? new Uint8Array([0, 0])],
          [20, () => new Uint8Array(int(rng, 20)).map(() => int(rng, 256))],
        ])()
        return [requestFrame(rng, pool, value)]
      }
      case 'misc':
        return [miscFrame(rng)]
      case 'sequence': {
        const room = roomOf(slot)
        const sv = stateVectorOf(room ? room.shadow : view)
        return weighted<() => Frame[]>(rng, [
          // issue 19 #1: any update, then a malformed sync step 1
          [30, () => [updateFrame(baseUpdate(slot, view, pool), 'then a bad step 1'), { bytes: new Uint8Array([0, 0, 6, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]), note: 'sync step1 sv ff ff ff ff 0f 01' }]],
          [20, () => {
            const u = baseUpdate(slot, view, pool)
            return [updateFrame(u, 'sent twice'), updateFrame(u, 'again')]
          }],
          [20, () => [helloFrame(rng, pool), updateFrame(baseUpdate(slot, view, pool), 'after hello'), syncStep1Frame(rng, pool, sv)]],
          [15, () => {
            // an update, then one that depends on it, in reverse order (pending structs)
            const u1 = viewEdits(slot, view, pool) ?? fresh(slot, pool, pool.own)
            const u2 = viewEdits(slot, view, pool) ?? fresh(slot, pool, pool.own)
            return [updateFrame(u2, 'dependent first'), updateFrame(u1, 'its dependency')]
          }],
          [15, () => [awarenessFrame(rng, pool), updateFrame(baseUpdate(slot, view, pool), 'with awareness'), { bytes: new Uint8Array([3]), note: 'query awareness' }]],
        ])()
      }
      case 'mixed': {
        // A legal update and an illegal or malformed one in a single update (issue 19 #2).
        const legal = fresh(slot, pool, pool.own)
        const other = mutateStructure(mutationContext(slot, view), viewEdits(slot, view, pool) ?? fresh(slot, pool, pickClient(rng, pool)))
        try {
          const a = parseUpdate(legal)
          const b = parseUpdate(other?.bytes ?? legal)
          const sections = [...a.sections, ...b.sections.filter((s) => !a.sections.some((x) => x.client === s.client))]
          const merged = encodeUpdate({ sections, ds: [...a.ds, ...b.ds], trailing: new Uint8Array(0) })
          return [updateFrame(merged, `legal sections + ${other?.notes.join('; ') ?? 'copy'}`)]
        } catch {
          return [updateFrame(legal, 'legal only')]
        }
      }
    }
  }

  /** Client-side pacing under the server's rate limit. */
  async function pace(slot: Slot, n: number): Promise<void> {
    for (;;) {
      const now = Date.now()
      slot.tokens = Math.min(o.framesPerSecond, slot.tokens + ((now - slot.lastRefill) / 1000) * o.framesPerSecond)
      slot.lastRefill = now
      if (slot.tokens >= n || slot.tokens >= o.framesPerSecond - 1) {
        slot.tokens -= n
        return
      }
      await sleep(Math.ceil(((n - slot.tokens) / o.framesPerSecond) * 1000))
    }
  }

  function record(s: SentFrame): void {
    recent.push(s)
    if (recent.length > 64) recent.shift()
    epochFrames.push(s)
    epochBytes += s.bytes.length
    while (epochFrames.length > 20_000 || epochBytes > 32 * 1024 * 1024) epochBytes -= epochFrames.shift()!.bytes.length
  }

  async function sendFrames(slot: Slot, frames: Frame[]): Promise<void> {
    if (!slot.ws || slot.ws.readyState > WebSocket.OPEN) connect(slot)
    let t = performance.now()
    const open = await withTimeout(slot.open!, 10_000)
    time.open += performance.now() - t
    if (open === 'timeout') {
      report('unresponsive', `an attacker's WebSocket to ${slot.room.slice(0, 60)} did not open in 10 s`, recent.slice(-12), false)
      slot.ws?.terminate()
      return
    }
    if (!open) {
      // refused or closed at once (e.g. an invalid room name): the frames go nowhere
      for (const f of frames) record({ iteration: stats.iterations, slot: slot.index, conn: slot.conn, room: slot.room, note: `(not sent: socket closed) ${f.note}`, bytes: f.bytes })
      return
    }
    t = performance.now()
    await pace(slot, frames.length)
    time.pace += performance.now() - t
    t = performance.now()
    const ws = slot.ws!
    while (ws.readyState === WebSocket.OPEN && ws.bufferedAmount > 4 * 1024 * 1024) await sleep(5)
    for (const f of frames) {
      if (ws.readyState !== WebSocket.OPEN) break
      ws.send(f.bytes)
      stats.framesSent++
      stats.bytesSent += f.bytes.length
      record({ iteration: stats.iterations, slot: slot.index, conn: slot.conn, room: slot.room, note: f.note, bytes: f.bytes })
    }
    time.send += performance.now() - t
    // Sometimes drop the connection right after (abrupt leave mid-stream).
    if (chance(rng, 0.01)) ws.terminate()
  }

  // ---- checkpoints ----

  /** Quiet the room, then: convergence, a late joiner, owned models, awareness, RSS. */
  async function checkpoint(e: Epoch): Promise<void> {
    stats.checkpoints++
    await closeAttackers()
    if (!(await checkAlive())) return
    for (const room of [e.rooms.a, e.rooms.b]) {
      for (const h of room.honest) {
        if (h.closes.length > 0) report('honest-disconnected', `honest ${h.name} (${h.id}) in ${room.name} was disconnected: ${h.closes.join(', ')}${honestTraffic(h)}`, epochFrames.slice(-12))
      }
      if (e.broken) return
      for (const h of room.honest) h.edit(hrng)
      const first = room.honest[0]
      const converged = await waitFor(() => room.honest.every((h) => h.client.provider.synced && sameState(h.doc, first.doc)), 15_000)
      if (!converged) {
        const diffs = room.honest.slice(1).map((h) => `${first.name} vs ${h.name}: ${describeDifference(first.doc, h.doc)}`)
        report('divergence', `honest replicas in ${room.name} did not converge in 15 s: ${diffs.join(' | ')}`, epochFrames.slice(-12))
        return
      }
      const t0 = Date.now()
      let late: ProviderClient | 'timeout'
      try {
        late = await withTimeout(connectProvider(server.url, room.name), 15_000)
      } catch (err) {
        late = 'timeout'
        report('unresponsive', `a late joiner to ${room.name} failed: ${(err as Error).message}`, epochFrames.slice(-12))
      }
      if (late === 'timeout') {
        if (!(await checkAlive())) return
        report('unresponsive', `a late joiner to ${room.name} did not sync in 15 s`, epochFrames.slice(-12))
        return
      }
      const joiner = late
      docsForReport = { 'late joiner': joiner.doc, ...Object.fromEntries(room.honest.map((h) => [h.name, h.doc])) }
      try {
        stats.maxProbeMs = Math.max(stats.maxProbeMs, Date.now() - t0)
        if (!(await waitFor(() => sameState(joiner.doc, first.doc), 10_000))) {
          report('divergence', `a late joiner to ${room.name} differs from the honest replicas: ${describeDifference(first.doc, joiner.doc)}`, epochFrames.slice(-12))
          return
        }
        const quietProblems: string[] = []
        for (const doc of [joiner.doc, ...room.honest.map((h) => h.doc)]) {
          const who = doc === joiner.doc ? 'a late joiner' : room.honest.find((x) => x.doc === doc)!.name
          for (const h of room.honest) {
            for (const r of h.records) {
              const problems = r.checkExact(doc)
              if (problems.length > 0) quietProblems.push(`${who}: ${problems.join('; ')}`)
            }
          }
        }
        // Replicas with the same state vector and deletions must hold the same content.
        const docs = [joiner.doc, ...room.honest.map((h) => h.doc)]
        const names = ['a late joiner', ...room.honest.map((h) => h.name)]
        for (const h of room.honest) {
          for (const r of h.records) {
            const views = docs.map((d) => canonical(r.locate(d, true).map((m) => m.toJSON())))
            if (views.some((v) => v !== views[0])) {
              const differ = views.map((v, i) => `${names[i]}: ${v.slice(0, 300)}`).join('\n    ')
              const placed = room.honest.map((x) => `${x.name} vs the late joiner: ${structuralDifference(x.doc, joiner.doc)}`)
              report('divergence', `replicas of ${room.name} agree on state vector and deletions but not on ${r.path}:\n    ${differ}\n    placed differently: ${placed.join('\n      ')}`, epochFrames.slice(-12))
              return
            }
          }
        }
        if (quietProblems.length > 0) {
          // Every replica's view: a lost write shows in all of them, a divergence in some.
          const placed = room.honest.map((h) => `${h.name} vs the late joiner: ${structuralDifference(h.doc, joiner.doc)}`)
          // No replica ever saw foreign content (the per-transaction check did not fire), and
          // all of them agree (the convergence check passed): the owner's own writes were lost
          // (the open class of issue 20: writes into content whose deletion was rolled back).
          // Reported, then the owner's record takes the room's state, and the epoch goes on.
          report('owned-model-changed', `in ${room.name}, quiet: ${quietProblems.join('\n    ')}\n    placed differently: ${placed.join('\n      ')}`, epochFrames.slice(-12), false)
          for (const h of room.honest) for (const r of h.records) r.rebase(joiner.doc)
        }
        const allowed = new Set([...room.honest.map((h) => h.id), joiner.doc.clientID])
        const clean = await waitFor(() => [...joiner.provider.awareness.getStates().keys()].every((id) => allowed.has(id)), 5000)
        if (!clean) {
          const extra = [...joiner.provider.awareness.getStates().keys()].filter((id) => !allowed.has(id))
          const whose = (id: number) => (pastJoiners.has(id) ? `${id} (an earlier late joiner)` : slots.some((s) => s.next.has(id)) ? `${id} (an attacker's)` : `${id}`)
          report('awareness-leak', `${extra.length} awareness states of closed connections remain in ${room.name} (e.g. ${extra.slice(0, 5).map(whose).join(', ')})`, epochFrames.slice(-12), false)
        }
      } finally {
        docsForReport = {}
        pastJoiners.add(joiner.doc.clientID)
        joiner.destroy()
      }
    }
    const rss = server.rssMb()
    stats.maxRssMb = Math.max(stats.maxRssMb, rss)
    if (rss > o.rssLimitMb) report('rss', `server RSS ${rss.toFixed(0)} MB over ${o.rssLimitMb} MB at a checkpoint`, epochFrames.slice(-12), false)
    checkServerProblems()
  }

  /** Ends a clean epoch: restart the server (SIGTERM or SIGKILL) and check what it stored. */
  async function restartCheck(e: Epoch): Promise<void> {
    const records = [e.rooms.a, e.rooms.b].flatMap((r) => r.honest.flatMap((h) => h.records.map((rec) => ({ room: r.name, rec }))))
    for (const r of [e.rooms.a, e.rooms.b]) for (const h of r.honest) h.destroy()
    await sleep(300)
    const signal = chance(hrng, 0.7) ? 'SIGTERM' : 'SIGKILL'
    const stop = await server.stop(signal)
    checkServerProblems()
    if (signal === 'SIGTERM' && stop.timedOut) report('shutdown', 'SIGTERM: the server did not exit within 15 s', [], false)
    else if (signal === 'SIGTERM' && stop.code !== 0) report('shutdown', `SIGTERM: the server exited with ${stop.code}\n${server.tail()}`, [], false)
    await restartAfterCrash()
    for (const room of [e.rooms.a.name, e.rooms.b.name]) {
      const late = await withTimeout(connectProvider(server.url, room), 15_000).catch(() => 'timeout' as const)
      if (late === 'timeout') {
        report('unresponsive', `after a ${signal} restart, a client of ${room} did not sync in 15 s`, [])
        continue
      }
      try {
        for (const { rec } of records.filter((x) => x.room === room)) {
          const problems = rec.checkExact(late.doc, true)
          if (problems.length > 0) report('lost-after-restart', `after a ${signal} restart, ${room}: ${problems.join('; ')}`, [])
        }
      } finally {
        late.destroy()
      }
    }
  }

  // ---- the campaign ----

  let lastProgress = Date.now()
  let lastProgressFrames = 0
  try {
    while (Date.now() < deadline) {
      epoch = await startEpoch()
      const e = epoch
      let checkpointsDone = 0
      while (!e.broken && checkpointsDone < o.checkpointsPerEpoch && Date.now() < deadline) {
        const from = stats.iterations
        const since = Date.now()
        attacking = true
        while (!e.broken && stats.iterations - from < o.checkpointEvery && Date.now() - since < o.checkpointMs) {
          stats.iterations++
          if (stats.iterations % 40 === 0) {
            const room = chance(hrng, 0.75) ? e.rooms.a : e.rooms.b
            pick(hrng, room.honest).edit(hrng)
          }
          const slot = weighted(rng, [
            ...slots.filter((s) => s.home === 'a').map((s) => [70 / o.attackers, s] as const),
            [18, slots.find((s) => s.home === 'b')!] as const,
            [12, slots.find((s) => s.home === 'roam')!] as const,
          ])
          if (slot.home === 'roam' && chance(rng, 0.05)) slot.ws?.terminate()
          let frames: Frame[]
          const t0 = performance.now()
          try {
            frames = attack(slot)
            time.gen += performance.now() - t0
          } catch (err) {
            log(`fuzzer: generating frames failed (a fuzzer bug, not a finding): ${(err as Error).stack}`)
            continue
          }
          await sendFrames(slot, frames)
          const t1 = performance.now()
          await new Promise((r) => setImmediate(r))
          time.yield += performance.now() - t1
          if (!server.alive) break
          if (server.problems.length > problemsSeen) checkServerProblems()
          for (const r of [e.rooms.a, e.rooms.b]) {
            for (const h of r.honest) {
              if (h.closes.length > 0 && !e.broken) report('honest-disconnected', `honest ${h.name} (${h.id}) in ${r.name} was disconnected: ${h.closes.join(', ')}${honestTraffic(h)}`)
            }
          }
          if (o.progressMs > 0 && Date.now() - lastProgress >= o.progressMs) {
            const dt = (Date.now() - lastProgress) / 1000
            log(
              `fuzz: ${((Date.now() - started) / 1000).toFixed(0)} s, iteration ${stats.iterations}, ${stats.framesSent} frames (${((stats.framesSent - lastProgressFrames) / dt).toFixed(0)}/s), ` +
                `${stats.reconnects} connections, epoch ${e.index}, RSS ${server.rssMb().toFixed(0)} MB, findings ${findings.size}` +
                (process.env.YROOM_FUZZ_TIMES ? ` times ${JSON.stringify(Object.fromEntries(Object.entries(time).map(([k, v]) => [k, Math.round(v)])))}` : ''),
            )
            lastProgress = Date.now()
            lastProgressFrames = stats.framesSent
          }
        }
        if (!(await checkAlive())) break
        if (e.broken) break
        await checkpoint(e)
        checkpointsDone++
      }
      await closeAttackers()
      if (!server.alive) {
        endEpochClients(e)
        await restartAfterCrash()
      } else if (!e.broken) {
        // the last checkpoint passed: restart and check what was stored
        await restartCheck(e)
        endEpochClients(e)
      } else {
        endEpochClients(e)
      }
      epoch = null
    }
  } finally {
    console.error = consoleError
    probing = false
    await closeAttackers()
    for (const s of slots) s.view?.destroy()
    await probeLoop
    checkServerProblems()
    await server.stop('SIGTERM', 10_000)
    rmSync(dataDir, { recursive: true, force: true })
  }
  const seconds = (Date.now() - started) / 1000
  return {
    seed: o.seed,
    seconds,
    iterations: stats.iterations,
    framesSent: stats.framesSent,
    bytesSent: stats.bytesSent,
    framesPerSecond: stats.framesSent / seconds,
    reconnects: stats.reconnects,
    epochs: stats.epochs,
    checkpoints: stats.checkpoints,
    restarts: stats.restarts,
    maxRssMb: stats.maxRssMb,
    maxProbeMs: stats.maxProbeMs,
    serverWarnings: server.warnLines,
    findings: [...findings.values()],
  }
}
