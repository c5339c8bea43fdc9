/**
 * Scenario 9 (issue 25), B4: the automerge-perf editing trace (../shared/realworld/
 * automerge-paper.json.gz, 259,778 single-character edits by one writer) over the wire, yroom
 * (authority on and off) against @hocuspocus/server and @y/websocket-server, every server a
 * process of its own, the clients (b4-client.ts: `ws` + `Y.Doc` + y-protocols, random 32-bit
 * clientIDs) in another.
 *  - Replay: the whole trace into the root `Y.Text` 'text' in 1,000-edit transactions, as
 *    fast as the receiver acknowledges (a few transactions in flight); server CPU, time to
 *    converge, the receiver's text checked against the trace's end. Then cold joins: fresh
 *    clients while the writer and receiver are still connected (the room loaded, in memory).
 *    Servers with their default (in-memory) configuration; `rounds` rounds, the order rotating.
 *  - Typing: the trace's first edits one per transaction at 30/s, three receivers, write →
 *    receipt latency (round 1, on the same server process, a room of its own).
 *  - Disk: the replay against each server with persistence (yroom LevelDB `--data <dir>`,
 *    Hocuspocus + @hocuspocus/extension-database writing the state to a file per document
 *    (servers/hocuspocus-db.mjs), @y/websocket-server with y-leveldb); the clients leave, the
 *    harness waits until the server has stored and unloaded the room, stops it with SIGTERM
 *    and sums the sizes of the files in its data directory. yroom is then started again on
 *    the same directory, a client joins, syncs and leaves, and the bytes its unload wrote are
 *    counted (an unchanged room should write none).
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runScript } from '../lib/child-script.js'
import { stopChild, track } from '../lib/children.js'
import { ROOT, SERVERS, startServer, type RunningServer, type ServerId } from '../servers/servers.js'
import { log, waitForQuiet, type Settings } from './common.js'
import type { JoinJob, ReplayJob, ReplayResult, TypingJob, TypingResult } from './b4-client.js'

const CLIENT = join(import.meta.dirname, 'b4-client.ts')
const WATCHDOG = join(import.meta.dirname, '..', 'servers', 'watchdog.mjs')

/** The servers of the replay and typing runs, in round 1's order. */
export const B4_SERVERS: ServerId[] = ['hocuspocus', 'yroom', 'yroom-noauth', 'y-websocket-server']
/** The servers of the disk runs (yroom's authority does not change what it stores). */
export const B4_DISK_SERVERS: ServerId[] = ['hocuspocus', 'yroom', 'y-websocket-server']

export interface B4Settings {
  txnSize: number
  receivers: number
  inFlight: number
  rounds: number
  joins: number
  typing: { hz: number; edits: number; receivers: number; warmupEdits: number }
  /** yroom `--idle-shutdown-ms` in the disk runs (default 30 s: the room would unload that long after its last client). */
  idleShutdownMs: number
}

export interface B4Replay extends ReplayResult {
  server: ServerId
  round: number
}

export interface B4Typing extends TypingResult {
  server: ServerId
}

export interface B4Disk {
  server: ServerId
  store: string
  /** Sum of the file sizes in the data directory after the server stopped. */
  bytes: number
  files: number
  replay: ReplayResult
  /** The clients' leaving → the room stored and unloaded (as far as the harness can tell). */
  unloadWaitMs: number
  /**
   * The server started again on the directory: a fresh client joins the stored room (`joinMs`:
   * connect → full text, the server loading it from its store), syncs and leaves; `bytes`: what
   * the unload wrote (the data directory's growth from before the join until the room was
   * unloaded again; for Hocuspocus, which overwrites its file, the bytes it stored);
   * `bytesAfterStop`: the directory after this second stop.
   */
  unchanged?: { bytes: number; joinMs: number; bytesAfterStop: number }
}

export interface B4Result {
  settings: B4Settings
  /** Quick mode: replays, cold joins and typing measured on the persisted servers of the disk runs, which ran at the same time. */
  quick?: boolean
  replays: B4Replay[]
  typing: B4Typing[]
  disk: B4Disk[]
  /** Disk runs that failed (the rest of the scenario stands). */
  diskErrors: string[]
}

export function b4Settings(quick: boolean): B4Settings {
  return {
    txnSize: 1000,
    receivers: 1,
    inFlight: 4,
    rounds: quick ? 1 : 2,
    joins: quick ? 3 : 5,
    typing: { hz: 30, edits: quick ? 90 : 600, receivers: 3, warmupEdits: 30 },
    idleShutdownMs: 500,
  }
}

let roomCounter = 0
const room = (what: string) => `b4-${what}-${process.pid}-${++roomCounter}`

function dirBytes(dir: string): { bytes: number; files: number } {
  let bytes = 0
  let files = 0
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue
    bytes += statSync(join(e.parentPath, e.name)).size
    files++
  }
  return { bytes, files }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Polls yroom's /metrics until no room is loaded. */
async function yroomUnloaded(port: number, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs
  for (;;) {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
    const m = /^yroom_rooms_loaded (\d+)/m.exec(text)
    if (!m) throw new Error('yroom /metrics has no yroom_rooms_loaded')
    if (Number(m[1]) === 0) return
    if (Date.now() > until) throw new Error(`yroom still had ${m[1]} room(s) loaded after ${timeoutMs} ms`)
    await sleep(50)
  }
}

interface HocuspocusDb extends RunningServer {
  /** Resolves when the server has printed a line matching `pattern` (since it started). */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<void>
  /** Bytes of the states it has stored so far (its `stored` lines). */
  storedBytes(): number
}

/** servers/hocuspocus-db.mjs on `dir`: started here (not by startServer) to read its store/unload lines. */
function startHocuspocusDb(dir: string): Promise<HocuspocusDb> {
  const child = track(
    spawn(process.execPath, ['--import', WATCHDOG, join(import.meta.dirname, '..', 'servers', 'hocuspocus-db.mjs'), dir], {
      cwd: ROOT,
      env: { ...process.env, NODE_ENV: 'production' },
      stdio: ['pipe', 'pipe', 'pipe'],
    }),
  )
  const lines: string[] = []
  const listeners = new Set<() => void>()
  let buf = ''
  child.stdout.on('data', (d: Buffer) => {
    buf += d.toString()
    const parts = buf.split('\n')
    buf = parts.pop() ?? ''
    lines.push(...parts)
    for (const l of listeners) l()
  })
  child.stderr.on('data', (d: Buffer) => process.stderr.write(`[hocuspocus-db] ${d.toString().trim().slice(0, 500)}\n`))
  const waitFor = (pattern: RegExp, timeoutMs: number) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!lines.some((l) => pattern.test(l))) return
        clearTimeout(t)
        listeners.delete(check)
        resolve()
      }
      const t = setTimeout(() => {
        listeners.delete(check)
        reject(new Error(`hocuspocus-db printed no ${pattern} in ${timeoutMs} ms`))
      }, timeoutMs)
      listeners.add(check)
      check()
    })
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`hocuspocus-db exited (${code}) before listening`)))
    waitFor(/listening on port (\d+)/, 20_000).then(() => {
      const port = Number(/listening on port (\d+)/.exec(lines.find((l) => /listening on port/.test(l))!)![1])
      resolve({
        spec: SERVERS.hocuspocus,
        pid: child.pid!,
        port,
        stop: () => stopChild(child),
        kill: () => stopChild(child, 0),
        waitFor,
        storedBytes: () => lines.reduce((n, l) => n + Number(/^stored \S+ (\d+)$/.exec(l)?.[1] ?? 0), 0),
      })
    }, reject)
  })
}

function replayJob(server: RunningServer, c: B4Settings, joins: number): ReplayJob {
  return {
    mode: 'replay',
    flavor: server.spec.flavor,
    port: server.port,
    room: room('replay'),
    serverPid: server.pid,
    txnSize: c.txnSize,
    receivers: c.receivers,
    inFlight: c.inFlight,
    joins,
  }
}

const ms = (x: number) => `${x.toFixed(0)} ms`
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

/** A server with persistence in `dir`. */
async function startPersisted(id: ServerId, dir: string, c: B4Settings): Promise<{ server: RunningServer | HocuspocusDb; store: string }> {
  if (id === 'hocuspocus') return { server: await startHocuspocusDb(dir), store: '@hocuspocus/extension-database, the state to a file per document' }
  if (id === 'y-websocket-server') return { server: await startServer(id, { persistenceDir: dir }), store: 'y-leveldb (YPERSISTENCE)' }
  return { server: await startServer(id, { data: dir, args: ['--idle-shutdown-ms', String(c.idleShutdownMs)] }), store: `LevelDB (\`--data <dir>\`, \`--idle-shutdown-ms ${c.idleShutdownMs}\`)` }
}

/**
 * Until the files in `dir` stop changing (three equal readings 100 ms apart, at most 10 s):
 * for a server that reports nothing when its store's work is done.
 */
async function settled(dir: string): Promise<void> {
  const end = Date.now() + 10_000
  let last = -1
  let same = 0
  while (same < 3 && Date.now() < end) {
    const now = dirBytes(dir).bytes
    same = now === last ? same + 1 : 0
    last = now
    await sleep(100)
  }
}

/** After the last client left `name`: until the server has stored and unloaded it. */
async function unloaded(id: ServerId, server: RunningServer | HocuspocusDb, name: string, dir: string): Promise<void> {
  if (id === 'hocuspocus') await (server as HocuspocusDb).waitFor(new RegExp(`^unloaded ${name}$`), 30_000)
  // y-leveldb stores every update as it arrives; @y/websocket-server's unload stores nothing more.
  else if (id === 'y-websocket-server') await settled(dir)
  else await yroomUnloaded(server.port)
}

/**
 * `extras` (quick mode): the replay's cold joins and the typing run too, from the same client
 * process, before it leaves (the quick run has no in-memory runs).
 */
export async function diskRun(id: ServerId, s: Settings, c: B4Settings, extras = false): Promise<{ disk: B4Disk; typing?: TypingResult }> {
  const dir = mkdtempSync(join(tmpdir(), 'yroom-bench-b4-'))
  try {
    await waitForQuiet(s)
    const { server, store } = await startPersisted(id, dir, c)
    let replay: ReplayResult
    let typing: TypingResult | undefined
    let unloadWaitMs: number
    const job = replayJob(server, c, extras ? c.joins : 0)
    try {
      ;[replay, typing] = await runScript<[ReplayResult, TypingResult?]>(CLIENT, extras ? [job, typingJob(server, c)] : [job])
      // The client process has exited: every client has left the room.
      const left = Date.now()
      await unloaded(id, server, job.room, dir)
      unloadWaitMs = Date.now() - left
    } finally {
      await server.stop()
    }
    const size = dirBytes(dir)
    const run: B4Disk = { server: id, store, ...size, replay, unloadWaitMs }
    // The stored room again: a client joins (timed: the server loads it from its store), syncs
    // and leaves; what that unchanged room's unload wrote.
    const again = (await startPersisted(id, dir, c)).server
    try {
      await settled(dir) // the store's own work on open (LevelDB turns its log into a table) first
      const before = dirBytes(dir).bytes
      const joinMs = (await runScript<number[]>(CLIENT, { mode: 'join', flavor: again.spec.flavor, port: again.port, room: job.room, joins: 1 } satisfies JoinJob))[0]
      await unloaded(id, again, job.room, dir)
      await settled(dir)
      // Hocuspocus overwrites its file (the directory does not grow): count what it stored.
      const written = id === 'hocuspocus' ? (again as HocuspocusDb).storedBytes() : dirBytes(dir).bytes - before
      await again.stop()
      run.unchanged = { bytes: written, joinMs, bytesAfterStop: dirBytes(dir).bytes }
    } finally {
      await again.stop()
    }
    log(
      `  disk ${SERVERS[id].label} (${store}): ${run.bytes} bytes in ${run.files} files; replay CPU ${replay.cpuSec.toFixed(2)} s, converged ${ms(replay.convergeMs)}; stored and unloaded ${ms(unloadWaitMs)} after the clients left` +
        `; restarted: cold join from the store ${ms(run.unchanged!.joinMs)}, the unchanged unload wrote ${run.unchanged!.bytes} bytes, ${run.unchanged!.bytesAfterStop} bytes after the second stop`,
    )
    if (extras) logExtras(id, replay, typing)
    return { disk: run, typing }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

function typingJob(server: RunningServer, c: B4Settings): TypingJob {
  return { mode: 'typing', flavor: server.spec.flavor, port: server.port, room: room('typing'), ...c.typing }
}

function logExtras(what: string, r: ReplayResult, t: TypingResult | undefined): void {
  log(
    `  ${what}: replay server CPU ${r.cpuSec.toFixed(2)} s (kernel ${r.cpuSystemSec.toFixed(2)}), converged ${ms(r.convergeMs)}, ` +
      `cold join median ${median(r.joinsMs).toFixed(1)} ms (${r.joinsMs.map((x) => x.toFixed(0)).join(', ')})` +
      (t ? `; typing p50 ${t.p50.toFixed(1)} ms, p99 ${t.p99.toFixed(1)} ms, max ${t.max.toFixed(1)} ms (${t.samples} receipts; writer late ${t.lateWrites}×)` : ''),
  )
}

/**
 * Full mode: `rounds` rounds of in-memory replays (+ typing in round 1), then the disk runs one
 * after the other. Quick mode (a smoke check, under a minute): only the disk runs, at the same
 * time, each with the cold joins and typing too; its replays and typing are those of the
 * persisted servers (`B4Result.quick`).
 */
export async function b4Scenario(s: Settings): Promise<B4Result> {
  const c = b4Settings(s.quick)
  log(`scenario 9 B4 editing trace: ${c.rounds} round(s) of replay, typing ${c.typing.edits} edits at ${c.typing.hz}/s, disk`)
  const result: B4Result = { settings: c, quick: s.quick, replays: [], typing: [], disk: [], diskErrors: [] }
  for (let round = 0; round < (s.quick ? 0 : c.rounds); round++) {
    const order = B4_SERVERS.map((_, i) => B4_SERVERS[(i + round) % B4_SERVERS.length])
    for (const id of order) {
      await waitForQuiet(s)
      const server = await startServer(id)
      try {
        // One unmeasured replay first, in a room of its own: the server's code is compiled
        // and warm, as in a server that has been running, not a process that just started
        // (a fresh process spent twice the CPU on its first replay, yroom and the peers alike).
        // Round 1 types after the replay, in a room of its own, from the same client process.
        const warmup = replayJob(server, c, 0)
        const jobs = round === 0 ? [warmup, replayJob(server, c, c.joins), typingJob(server, c)] : [warmup, replayJob(server, c, c.joins)]
        const [, r, t] = await runScript<[ReplayResult, ReplayResult, TypingResult?]>(CLIENT, jobs)
        result.replays.push({ ...r, server: id, round: round + 1 })
        if (t) result.typing.push({ ...t, server: id })
        logExtras(`${id} round ${round + 1}`, r, t)
      } finally {
        await server.stop()
      }
    }
  }
  const disk = async (id: ServerId) => {
    try {
      return await diskRun(id, s, c, s.quick)
    } catch (err) {
      log(`  disk run ${id} FAILED: ${(err as Error).message}`)
      result.diskErrors.push(`${SERVERS[id].label}: ${(err as Error).message.split('\n')[0]}`)
      return null
    }
  }
  // Quick mode runs the three at the same time (time; their CPU figures are not the benchmark's).
  type DiskOut = Awaited<ReturnType<typeof disk>>
  const runs = s.quick ? await Promise.all(B4_DISK_SERVERS.map(disk)) : await B4_DISK_SERVERS.reduce(async (acc, id) => [...(await acc), await disk(id)], Promise.resolve([] as DiskOut[]))
  for (const d of runs) {
    if (!d) continue
    result.disk.push(d.disk)
    if (s.quick) {
      result.replays.push({ ...d.disk.replay, server: d.disk.server, round: 1 })
      if (d.typing) result.typing.push({ ...d.typing, server: d.disk.server })
    }
  }
  return result
}
