/**
 * Replays a finding's frames (the JSON file a campaign writes) against a fresh `yroom serve`
 * and, with `--minimize`, shrinks them (ddmin over the attackers' frames; the honest
 * clients' updates are replayed as they were) to a small reproduction:
 *
 *   node --import tsx test/fuzz/replay.ts /tmp/yroom-fuzz-…/finding-3.json [--minimize] [--match TEXT]
 *
 * A run reproduces the finding when: the server exits (crash), logs an error whose text
 * contains --match (server-log), an observer or a late joiner sees an owned model in a state
 * its owner's updates alone never produce, or the late joiner differs from the observer.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import WebSocket from 'ws'
import * as Y from 'yjs'
import { connectProvider, type ProviderClient } from '../helpers.js'
import { canonical, sameState } from './honest.js'
import { freePort, ServerProcess } from './server-process.js'

export interface ReplayFrame {
  slot: number
  conn?: number
  room: string
  note: string
  bytes: Uint8Array | string
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

function fromHex(h: string): Uint8Array | string {
  if (h.startsWith('text:')) return JSON.parse(h.slice(5)) as string
  return new Uint8Array(Buffer.from(h, 'hex'))
}

export function loadFinding(file: string): { kind: string; message: string; frames: ReplayFrame[] } {
  type Stored = Array<{ slot: number; room: string; note: string; bytes: string }>
  const d = JSON.parse(readFileSync(file, 'utf8')) as { kind: string; message: string; epochFrames?: Stored; sinceCheckpoint?: Stored }
  return { kind: d.kind, message: d.message, frames: (d.epochFrames ?? d.sinceCheckpoint ?? []).filter((f) => !f.note.startsWith('(not sent')).map((f) => ({ ...f, bytes: fromHex(f.bytes) })) }
}

/** The owned models of a doc: key → canonical JSON (maps with $meta.ownerID; `inner` of containers; owned array elements). */
function ownedStates(doc: Y.Doc, owners: Set<number>): Map<string, string> {
  const out = new Map<string, string>()
  const ownerOf = (v: unknown) => (v instanceof Y.Map && v.get('$meta') instanceof Y.Map ? (v.get('$meta') as Y.Map<unknown>).get('ownerID') : undefined)
  for (const [k, v] of doc.getMap<unknown>('models').entries()) {
    if (v instanceof Y.Map && owners.has(ownerOf(v) as number)) out.set(k, canonical(v.toJSON()))
    else if (v instanceof Y.Map && v.get('inner') instanceof Y.Map && owners.has(ownerOf(v.get('inner')) as number)) out.set(`${k}/inner`, canonical((v.get('inner') as Y.Map<unknown>).toJSON()))
    else if (v instanceof Y.Array) {
      const owned = v.toArray().filter((x) => owners.has(ownerOf(x) as number))
      if (owned.length) out.set(`${k}[*]`, canonical(owned.map((x) => (x as Y.Map<unknown>).toJSON())))
    }
  }
  return out
}

export interface ReplayResult {
  reproduced: boolean
  detail: string
}

/** Replays `frames` in fresh rooms (suffix `tag`) on `server`; reports whether the finding shows. */
export async function replay(server: ServerProcess, frames: ReplayFrame[], tag: string, kind: string, match: string | null, gapMs = 1): Promise<ReplayResult> {
  const problemsBefore = server.problems.length
  const roomName = (r: string) => `${r}-${tag}`.slice(0, 512)
  const honestRooms = new Set(frames.filter((f) => f.slot === -1).map((f) => f.room))
  // What the honest updates alone produce, state after state (the owners' own history).
  const expected = new Map<string, Y.Doc>()
  const allowed = new Map<string, Set<string>>()
  const owners = new Set<number>()
  for (const f of frames) {
    if (f.slot !== -1) continue
    try {
      const d = new Y.Doc()
      Y.applyUpdate(d, f.bytes as Uint8Array)
      for (const c of d.store.clients.keys()) owners.add(c)
      d.destroy()
    } catch {
      // partial (depends on earlier updates): its client is known from those
    }
  }
  for (const r of honestRooms) {
    const d = new Y.Doc()
    expected.set(r, d)
    allowed.set(r, new Set())
  }
  const recordAllowed = (r: string) => {
    const set = allowed.get(r)!
    for (const [k, v] of ownedStates(expected.get(r)!, owners)) set.add(`${k}=${v}`)
  }
  // Observers: stock clients in each honest room, checking every transaction.
  const observers = new Map<string, ProviderClient>()
  const violations: string[] = []
  for (const r of honestRooms) {
    const o = await connectProvider(server.url, roomName(r))
    observers.set(r, o)
    const seen = new Set<string>()
    o.doc.on('afterTransaction', () => {
      const states = ownedStates(o.doc, owners)
      for (const [k, v] of states) {
        seen.add(k)
        if (!allowed.get(r)!.has(`${k}=${v}`)) violations.push(`observer in ${r}: ${k} = ${v.slice(0, 300)}`)
      }
      for (const k of seen) if (!states.has(k)) violations.push(`observer in ${r}: ${k} is gone`)
    })
  }
  // Honest clients: stock providers under their own ids; their updates are applied to their docs locally.
  const honestClients = new Map<string, ProviderClient>()
  const honestFor = async (f: ReplayFrame): Promise<ProviderClient> => {
    const key = `${f.note}:${f.room}`
    let c = honestClients.get(key)
    if (!c) {
      const doc = new Y.Doc()
      const parsed = new Y.Doc()
      try {
        Y.applyUpdate(parsed, f.bytes as Uint8Array)
      } catch {
        // ids only
      }
      doc.clientID = [...parsed.store.clients.keys()][0] ?? doc.clientID
      parsed.destroy()
      c = await connectProvider(server.url, roomName(f.room), { doc })
      // Its updates are applied as remote ones: a doc whose own id appears in them would pick a
      // new id (Yjs's collision check). The awareness keeps the honest id.
      doc.clientID = 1 + Math.floor(Math.random() * 2 ** 30)
      honestClients.set(key, c)
    }
    return c
  }
  // A stock client that cannot apply what the server sent (y-protocols logs it).
  const consoleError = console.error
  console.error = (...args: unknown[]) => {
    if (typeof args[0] === 'string' && args[0].startsWith('Caught error while handling a Yjs update')) violations.push(`client error: ${(args[1] as Error)?.message}`)
    else consoleError(...args)
  }
  const sockets = new Map<string, { ws: WebSocket; open: Promise<boolean> }>()
  const lastSocketOfSlot = new Map<number, string>()
  const socketFor = (key: string, room: string) => {
    const cur = sockets.get(key)
    if (cur && cur.ws.readyState <= WebSocket.OPEN) return cur
    const ws = new WebSocket(`${server.url}/${room}`, { perMessageDeflate: false })
    ws.on('error', () => {})
    ws.on('message', () => {})
    const s = { ws, open: new Promise<boolean>((res) => (ws.once('open', () => res(true)), ws.once('close', () => res(false)))) }
    sockets.set(key, s)
    return s
  }
  try {
    for (const f of frames) {
      if (f.slot === -1) {
        const d = expected.get(f.room)!
        Y.applyUpdate(d, f.bytes as Uint8Array)
        recordAllowed(f.room)
      }
      if (f.slot === -1) {
        // An honest update: applied to its client's doc, which sends it as its provider does.
        const c = await honestFor(f)
        Y.applyUpdate(c.doc, f.bytes as Uint8Array)
      } else {
        // One socket per connection of the campaign (a slot reconnects after the server closes it).
        const key = f.conn !== undefined ? `a:${f.slot}:${f.conn}` : `a:${f.slot}:${f.room}`
        const prev = lastSocketOfSlot.get(f.slot)
        if (prev !== undefined && prev !== key) sockets.get(prev)?.ws.terminate()
        lastSocketOfSlot.set(f.slot, key)
        const s = socketFor(key, roomName(f.room))
        if (!(await s.open)) continue
        s.ws.send(f.bytes)
      }
      if (gapMs > 0) await sleep(gapMs)
      if (!server.alive) break
    }
    await sleep(400)
    if (!server.alive) return { reproduced: kind === 'crash' || kind === 'unresponsive', detail: `server exited with ${server.exitCode}` }
    const logged = server.problems.slice(problemsBefore)
    if (match !== null && logged.some((p) => p.text.includes(match))) return { reproduced: true, detail: logged.find((p) => p.text.includes(match))!.text.slice(0, 600) }
    const matching = match === null ? violations : violations.filter((v) => v.includes(match))
    if (matching.length > 0) return { reproduced: true, detail: matching.slice(0, 3).join('\n') }
    for (const r of honestRooms) {
      const late = await Promise.race([connectProvider(server.url, roomName(r)), sleep(10_000).then(() => null)])
      if (!late) return { reproduced: kind === 'unresponsive', detail: `late joiner to ${r} did not sync` }
      try {
        const obs = observers.get(r)!
        const want = ownedStates(expected.get(r)!, owners)
        const got = ownedStates(late.doc, owners)
        for (const [k, v] of want) {
          const detail = `late joiner in ${r}: ${k} = ${got.get(k)?.slice(0, 300)}, owner wrote ${v.slice(0, 300)}`
          if (got.get(k) !== v && (match === null || detail.includes(match))) return { reproduced: true, detail }
        }
        let same = false
        for (let i = 0; i < 100 && !(same = sameState(late.doc, obs.doc)); i++) await sleep(30)
        if (!same && (kind === 'divergence' || kind === 'any')) return { reproduced: true, detail: `late joiner in ${r} differs from the observer` }
      } finally {
        late.destroy()
      }
    }
    return { reproduced: false, detail: '' }
  } finally {
    console.error = consoleError
    for (const s of sockets.values()) s.ws.terminate()
    for (const c of honestClients.values()) {
      c.doc.clientID = c.provider.awareness.clientID
      c.destroy()
    }
    for (const o of observers.values()) o.destroy()
    for (const d of expected.values()) d.destroy()
  }
}

/** ddmin over the attackers' frames (honest updates always kept). */
export async function minimize(server: ServerProcess, frames: ReplayFrame[], kind: string, match: string | null, log: (s: string) => void, restart: () => Promise<void>, gapMs = 1): Promise<ReplayFrame[]> {
  const honest = frames.map((f, i) => (f.slot === -1 ? i : -1)).filter((i) => i >= 0)
  let attack = frames.map((f, i) => (f.slot !== -1 ? i : -1)).filter((i) => i >= 0)
  let trial = 0
  const test = async (subset: number[]): Promise<boolean> => {
    const keep = new Set([...honest, ...subset])
    const r = await replay(server, frames.filter((_, i) => keep.has(i)), `m${trial++}`, kind, match, gapMs)
    if (!server.alive) await restart()
    return r.reproduced
  }
  let n = 2
  while (attack.length >= 2) {
    const chunk = Math.ceil(attack.length / n)
    const parts: number[][] = []
    for (let i = 0; i < attack.length; i += chunk) parts.push(attack.slice(i, i + chunk))
    let reduced = false
    for (const p of parts) {
      if (await test(p)) {
        attack = p
        n = 2
        reduced = true
        break
      }
    }
    if (!reduced) {
      for (const p of parts) {
        const rest = attack.filter((i) => !p.includes(i))
        if (rest.length > 0 && (await test(rest))) {
          attack = rest
          n = Math.max(n - 1, 2)
          reduced = true
          break
        }
      }
    }
    log(`  ddmin: ${attack.length} attacker frames (trial ${trial})`)
    if (!reduced) {
      if (n >= attack.length) break
      n = Math.min(attack.length, n * 2)
    }
  }
  // Then the honest updates that are not needed.
  let honestKept = honest
  for (const i of [...honest].reverse()) {
    const without = honestKept.filter((x) => x !== i)
    const keep = new Set([...without, ...attack])
    const r = await replay(server, frames.filter((_, j) => keep.has(j)), `h${trial++}`, kind, match, gapMs)
    if (!server.alive) await restart()
    if (r.reproduced) honestKept = without
  }
  const keep = new Set([...honestKept, ...attack])
  return frames.filter((_, i) => keep.has(i))
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { minimize: { type: 'boolean' }, match: { type: 'string' }, kind: { type: 'string' }, tries: { type: 'string', default: '3' }, gap: { type: 'string', default: '1' }, verbose: { type: 'boolean' }, save: { type: 'string' } },
  })
  const file = positionals[0]
  if (!file) {
    console.log('usage: node --import tsx test/fuzz/replay.ts FINDING.json [--minimize] [--match TEXT] [--kind KIND] [--tries N]')
    process.exit(2)
  }
  const finding = loadFinding(file)
  const kind = values.kind ?? finding.kind
  const match = values.match ?? (kind === 'server-log' ? (/"message":"([^"]{6,60})/.exec(finding.message)?.[1] ?? /"msg":"([^"]+)"/.exec(finding.message)?.[1] ?? null) : null)
  console.log(`${kind}: ${finding.message.slice(0, 300)}\n${finding.frames.length} frames (${finding.frames.filter((f) => f.slot === -1).length} honest)${match ? `, matching ${JSON.stringify(match)}` : ''}`)
  const dataDir = mkdtempSync(join(tmpdir(), 'yroom-replay-'))
  const server = new ServerProcess(await freePort(), dataDir)
  await server.start()
  const restart = async () => {
    console.log('  (server exited; restarting)')
    await server.start()
  }
  try {
    let reproduced = false
    for (let i = 0; i < Number(values.tries) && !reproduced; i++) {
      const r = await replay(server, finding.frames, `r${i}`, kind, match, Number(values.gap))
      if (values.verbose) for (const p of server.problems.splice(0)) console.log(`  server: ${p.text.slice(0, 400)}`)
      console.log(`replay ${i + 1}: ${r.reproduced ? 'REPRODUCED' : 'not reproduced'} ${r.detail}`)
      reproduced = r.reproduced
      if (!server.alive) await restart()
    }
    if (!reproduced || !values.minimize) return
    const min = await minimize(server, finding.frames, kind, match, console.log, restart, Number(values.gap))
    console.log(`\nminimal: ${min.length} frames`)
    for (const f of min) console.log(`  ${f.slot === -1 ? 'honest' : `attacker ${f.slot}`} ${f.room} ${f.note}\n    ${typeof f.bytes === 'string' ? JSON.stringify(f.bytes) : Buffer.from(f.bytes).toString('hex')}`)
    if (values.save) {
      const hex = (b: Uint8Array | string) => (typeof b === 'string' ? `text:${JSON.stringify(b)}` : Buffer.from(b).toString('hex'))
      writeFileSync(values.save, JSON.stringify({ kind, message: finding.message, epochFrames: min.map((f) => ({ ...f, bytes: hex(f.bytes) })) }, null, 1))
      console.log(`saved to ${values.save}`)
    }
    const check = await replay(server, min, 'final', kind, match, Number(values.gap))
    console.log(`minimal replay: ${check.reproduced ? 'REPRODUCED' : 'not reproduced'} ${check.detail}`)
  } finally {
    await server.stop('SIGKILL')
    rmSync(dataDir, { recursive: true, force: true })
  }
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  main().then(
    () => process.exit(0),
    (err) => {
      console.error(err)
      process.exit(1)
    },
  )
}
