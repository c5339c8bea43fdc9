/** Scenario 9 (B4, the automerge-perf editing trace): its Targets rows and its section of BENCHMARKS.md. */
import type { B4Disk, B4Replay, B4Result } from '../scenarios/b4.js'
import { SERVERS, type ServerId } from '../servers/servers.js'
import type { TargetRow } from './markdown.js'

const f = (n: number | null | undefined, d = 1) => (n === null || n === undefined || !Number.isFinite(n) ? 'n/a' : n.toFixed(d))
const kb = (bytes: number | undefined) => (bytes === undefined ? 'n/a' : `${(bytes / 1000).toFixed(0)} KB`)
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

const replaysOf = (r: B4Result, id: ServerId) => r.replays.filter((x) => x.server === id)
/** Server CPU of all of a server's replays (s). */
const cpuOf = (r: B4Result, id: ServerId) => replaysOf(r, id).reduce((n, x) => n + x.cpuSec, 0)
const convergeOf = (r: B4Result, id: ServerId) => median(replaysOf(r, id).map((x) => x.convergeMs))
const joinOf = (r: B4Result, id: ServerId) => median(replaysOf(r, id).flatMap((x) => x.joinsMs))
const typingOf = (r: B4Result, id: ServerId) => r.typing.find((x) => x.server === id)
const diskOf = (r: B4Result, id: ServerId): B4Disk | undefined => r.disk.find((x) => x.server === id)
const has = (r: B4Result, id: ServerId) => replaysOf(r, id).length > 0

export function b4Targets(r: B4Result): TargetRow[] {
  const rows: TargetRow[] = []
  const c = r.settings
  const rounds = replaysOf(r, 'yroom').length
  const runs = rounds > 1 ? ` (${rounds} replays each)` : ''
  if (has(r, 'yroom') && has(r, 'hocuspocus')) {
    const y = cpuOf(r, 'yroom')
    const h = cpuOf(r, 'hocuspocus')
    rows.push({
      target: `B4 over the wire, ${c.txnSize.toLocaleString('en-US')}-edit transactions: server CPU ≤ 0.5 × Hocuspocus`,
      measured: `${f(y, 2)} s vs ${f(h, 2)} s = **${f(y / h, 2)} ×**${runs}`,
      met: h > 0 ? y / h <= 0.5 : null,
    })
  }
  const yd = diskOf(r, 'yroom')
  const hd = diskOf(r, 'hocuspocus')
  if (yd && hd) {
    rows.push({
      target: 'Disk after B4 ≤ 1.2 × Hocuspocus',
      measured:
        `${kb(yd.bytes)} vs ${kb(hd.bytes)} = **${f(yd.bytes / hd.bytes, 2)} ×** (data directory after a graceful stop)` +
        (yd.unchanged ? `; after one more start and stop ${kb(yd.unchanged.bytesAfterStop)} = ${f(yd.unchanged.bytesAfterStop / hd.bytes, 2)} ×` : ''),
      met: yd.bytes / hd.bytes <= 1.2,
    })
  }
  if (yd?.unchanged) {
    rows.push({
      target: 'An unchanged unload writes 0 bytes',
      measured: `**${yd.unchanged.bytes} bytes** (yroom's data directory grew by that from before a client joined the stored room, synced and left, until the room was unloaded)`,
      met: yd.unchanged.bytes === 0,
    })
  }
  const ty = typingOf(r, 'yroom')
  const peers = (['hocuspocus', 'y-websocket-server'] as const).flatMap((id) => {
    const t = typingOf(r, id)
    return t ? [{ id, t }] : []
  })
  if (ty && peers.length > 0) {
    const faster = peers.reduce((a, b) => (b.t.p50 < a.t.p50 ? b : a))
    const ok = ty.p50 <= 2 * faster.t.p50 && ty.p99 <= 20
    rows.push({
      target: `Typing at low load (one edit per transaction at ${c.typing.hz}/s, ${c.typing.receivers} receivers): p50 ≤ 2 × the faster peer, p99 ≤ 20 ms`,
      measured: `p50 **${f(ty.p50, 1)} ms** vs ${f(faster.t.p50, 1)} ms (${SERVERS[faster.id].label}) = ${f(ty.p50 / faster.t.p50, 2)} ×; p99 **${f(ty.p99, 1)} ms**`,
      met: Number.isFinite(ty.p50) ? ok : null,
    })
  }
  if (has(r, 'yroom')) {
    const others = (['hocuspocus', 'y-websocket-server', 'yroom-noauth'] as const).filter((id) => has(r, id))
    rows.push({
      target: 'B4 replay, time until the receiver has the whole text (informational)',
      measured: `yroom **${f(convergeOf(r, 'yroom'), 0)} ms**; ${others.map((id) => `${SERVERS[id].label} ${f(convergeOf(r, id), 0)} ms`).join(', ')}${rounds > 1 ? ' (medians)' : ''}`,
      met: null,
    })
    rows.push({
      target: 'B4 cold join, a fresh client until it has the whole text, room loaded (informational)',
      measured: `yroom **${f(joinOf(r, 'yroom'), 0)} ms**; ${others.map((id) => `${SERVERS[id].label} ${f(joinOf(r, id), 0)} ms`).join(', ')} (medians)`,
      met: null,
    })
    const y = cpuOf(r, 'yroom')
    const parts: string[] = []
    if (has(r, 'y-websocket-server')) parts.push(`vs @y/websocket-server **${f(y / cpuOf(r, 'y-websocket-server'), 2)} ×** (${f(cpuOf(r, 'y-websocket-server'), 2)} s)`)
    if (has(r, 'yroom-noauth')) parts.push(`authority on vs off **${f(y / cpuOf(r, 'yroom-noauth'), 2)} ×** (${f(cpuOf(r, 'yroom-noauth'), 2)} s)`)
    if (parts.length > 0) rows.push({ target: 'B4 replay server CPU, other comparisons (informational)', measured: `yroom ${f(y, 2)} s ${parts.join('; ')}${runs}`, met: null })
  }
  return rows
}

function replayRow(x: B4Replay, hocus: number | undefined): string {
  return (
    `| ${SERVERS[x.server].label} | ${x.round} | ${f(x.cpuSec, 2)} (${f(x.cpuSystemSec, 2)}) | ${hocus ? f(x.cpuSec / hocus, 2) : '—'} | ${f(x.convergeMs, 0)} | ` +
    `${f(median(x.joinsMs), 0)} (${x.joinsMs.map((j) => f(j, 0)).join(', ')}) |`
  )
}

export function b4Section(r: B4Result): string[] {
  const c = r.settings
  const out: string[] = []
  const any = r.replays[0] ?? r.disk[0]?.replay
  out.push('## 9. B4: the automerge-perf editing trace')
  out.push('')
  out.push(
    `The automerge-perf trace (\`../shared/realworld/automerge-paper.json.gz\`: ${any ? any.edits.toLocaleString('en-US') : '259,778'} single-character edits by one writer, final text ${any ? any.finalChars.toLocaleString('en-US') : '104,852'} characters) over the wire. ` +
      'The clients (test/bench/scenarios/b4-client.ts, one process of their own) are stock Yjs clients: a `ws` WebSocket and a `Y.Doc` with a random 32-bit clientID each, speaking y-protocols sync ' +
      '(step 1 on open, step 2 in reply to the server\'s step 1, one update message per transaction, as y-websocket does; for Hocuspocus with its document-name prefix and auth message). ' +
      'The text is the root `Y.Text` `text` (no model: unowned, writable by any client under yroom\'s authority). ' +
      'A receiver holds transaction k once its copy of the writer\'s clock and deleted count have reached the writer\'s after k (every edit inserts or deletes, so the pair grows with each transaction): nothing is added to the document to time it.',
  )
  out.push('')
  out.push(
    `**Replay**: one writer applies the whole trace in ${c.txnSize.toLocaleString('en-US')}-edit transactions (${any?.txns ?? '?'} updates, ${kb(any?.updateBytes)} of Yjs updates), each sent when at most ${c.inFlight - 1} earlier ones are still unacknowledged by the ` +
      `receiver${c.receivers > 1 ? 's' : ''} (${c.receivers}). Server CPU: utime + stime from \`/proc/<pid>/stat\`, first send → every receiver's text equals the trace's end (checked: a different text fails the scenario). ` +
      `**Cold join**: with the writer and receiver still connected (the room loaded, in memory), ${c.joins} fresh clients one after the other, each timed from opening its socket until its text equals the end. ` +
      `Each server with its default (in-memory) configuration, started fresh for each replay, which it measures after one unmeasured warm-up replay in another room (a running server's code is compiled; a fresh process spends about twice the CPU on its first replay); ${r.replays.length ? Math.max(...r.replays.map((x) => x.round)) : 0} round(s), the order rotating.`,
  )
  out.push('')
  if (r.quick) {
    out.push(
      '**Quick mode: no in-memory runs. The replays, cold joins and typing below were measured on the persisted servers of the disk runs (storage included), the three servers at the same time: a smoke check, not the benchmark.**',
    )
    out.push('')
  }
  out.push('| server | round | server CPU s (kernel) | × Hocuspocus | converged after ms | cold join ms, median (each) |\n|---|---|---|---|---|---|')
  const hocus = new Map(replaysOf(r, 'hocuspocus').map((x) => [x.round, x.cpuSec]))
  for (const x of [...r.replays].sort((a, b) => a.round - b.round || a.server.localeCompare(b.server))) out.push(replayRow(x, hocus.get(x.round)))
  out.push('')
  if (r.typing.length) {
    const t = c.typing
    out.push(
      `**Typing**: the trace's first ${t.edits} edits, one per transaction at ${t.hz}/s (${f(t.edits / t.hz, 0)} s), from one writer to ${t.receivers} receivers, on the server of round 1 (a room of its own, after the replay and cold joins). ` +
        `Latency: the writer's send → a receiver holds the edit, over all receivers; the first ${t.warmupEdits} edits left out. Writer and receivers share the client process (its delays count for every server alike).`,
    )
    out.push('')
    out.push('| server | p50 ms | p99 ms | max ms | receipts | writes sent > 1 interval late |\n|---|---|---|---|---|---|')
    for (const x of r.typing) out.push(`| ${SERVERS[x.server].label} | ${f(x.p50, 1)} | ${f(x.p99, 1)} | ${f(x.max, 1)} | ${x.samples} | ${x.lateWrites} |`)
    out.push('')
  }
  if (r.disk.length || r.diskErrors.length) {
    const hd = diskOf(r, 'hocuspocus')
    out.push(
      '**Disk after B4**: the replay (as above, no cold joins) against each server with persistence; then every client leaves, the harness waits until the server has stored and unloaded the room ' +
        `(yroom: \`yroom_rooms_loaded\` 0 in \`/metrics\`, with \`--idle-shutdown-ms ${c.idleShutdownMs}\` instead of the default 30 s; Hocuspocus: its \`afterUnloadDocument\` hook; @y/websocket-server: 1 s, y-leveldb having stored every update as it came), ` +
        'stops it with SIGTERM and sums the sizes of the files in its data directory. Then the server is started again on the directory: a fresh client joins the stored room (timed until it has the whole text: the server loads the room from its store) and leaves, ' +
        'and what that unchanged room\'s unload wrote is counted (the directory\'s growth; Hocuspocus, which overwrites its file, by the states it stored). ' +
        'Hocuspocus: `@hocuspocus/extension-database` storing `Y.encodeStateAsUpdate` to a file per document (test/bench/servers/hocuspocus-db.mjs), its default store debounce (2 s, at most 10 s).',
    )
    out.push('')
    out.push(
      '| server (store) | bytes after stop (files) | × Hocuspocus | replay server CPU s | converged after ms | stored and unloaded, ms after the clients left | restarted: cold join from the store, ms | unchanged unload wrote, bytes | bytes after the second stop |\n|---|---|---|---|---|---|---|---|---|',
    )
    for (const d of r.disk) {
      const u = d.unchanged
      out.push(
        `| ${SERVERS[d.server].label} (${d.store}) | ${d.bytes.toLocaleString('en-US')} (${d.files}) | ${hd ? f(d.bytes / hd.bytes, 2) : '—'} | ${f(d.replay.cpuSec, 2)} | ${f(d.replay.convergeMs, 0)} | ${d.unloadWaitMs} | ` +
          `${u ? f(u.joinMs, 0) : '—'} | ${u ? u.bytes.toLocaleString('en-US') : '—'} | ${u ? u.bytesAfterStop.toLocaleString('en-US') : '—'} |`,
      )
    }
    out.push('')
    for (const e of r.diskErrors) out.push(`- Disk run failed: ${e}`)
    if (r.diskErrors.length) out.push('')
  }
  return out
}
