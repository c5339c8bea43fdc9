/**
 * Issue 21, defect 1: pending actions must survive any reconnect. At-most-once holds per
 * action id (not per "last sequence number"), and every pending action is applied exactly
 * once or fails with a reason, whatever order the client resends them in.
 * Real servers: a child process that is stalled (SIGSTOP), killed and restarted on the same
 * storage and port; and an in-process server fed requests out of order. Both on every
 * backend of test/backends.ts (a LevelDB directory, a PostgreSQL database).
 */
import { afterEach, describe, expect, it } from 'vitest'
import { spawn, type ChildProcess } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as Y from 'yjs'
import WebSocket from 'ws'
import { defaultPlugins } from '../../plugins/index.js'
import { actionsPlugin } from '../../plugins/actions/index.js'
import { connect, type Room } from '../../src/sdk/index.js'
import type { WebSocketConstructor } from '../../src/sdk/transport.js'
import { freePort } from '../free-port.js'
import { startServer, until } from '../helpers.js'
import { backendCases, type Backend } from '../backends.js'
import { counterSet } from './fixtures/sets.js'

const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'action-server.ts')
const cleanups: Array<() => Promise<unknown> | unknown> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

interface Child {
  proc: ChildProcess
  exited: Promise<unknown>
}

async function startChild(dir: string, port: number): Promise<Child> {
  const proc = spawn(process.execPath, ['--import', 'tsx', FIXTURE, dir, String(port)], { stdio: ['ignore', 'pipe', 'pipe'] })
  const exited = new Promise((resolve) => proc.once('exit', resolve))
  cleanups.push(async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGCONT')
      proc.kill('SIGKILL')
      await exited
    }
  })
  let err = ''
  proc.stderr!.on('data', (d) => (err += d))
  await new Promise<void>((resolve, reject) => {
    let out = ''
    proc.stdout!.on('data', (d) => {
      out += d
      if (/listening \d+/.test(out)) resolve()
    })
    void exited.then(() => reject(new Error(`action server exited before listening: ${err}`)))
  })
  return { proc, exited }
}

function client(url: string, room: string): Room {
  const r = connect({
    url,
    room,
    actions: [counterSet],
    WebSocket: WebSocket as unknown as WebSocketConstructor,
    reconnect: { minDelayMs: 20, maxDelayMs: 200 },
  })
  cleanups.push(() => r.destroy())
  return r
}

/** Fresh storage of `backend` (its storage / --data value), removed after the test. */
async function storage(backend: Backend): Promise<string> {
  const d = await backend.data()
  cleanups.push(d.cleanup) // cleanups run in reverse: after the servers on it stopped
  return d.data
}

const counterOf = (r: Room) => r.doc.getMap('models').get('counter') as Y.Map<unknown>

describe('pending actions across reconnects (issue 21, defect 1)', () => {
  it.each(backendCases)('in flight to a stalled server that is killed, plus queued offline: 100 → 155, every promise once (%s)', async (_name, backend) => {
    const dir = await storage(backend)
    const port = await freePort()
    let server = await startChild(dir, port)
    const r = client(`ws://127.0.0.1:${port}`, 'r')
    await until(() => counterOf(r)?.get('value') === 100 && r.status === 'connected', { timeout: 15_000, message: 'counter at 100' })

    const settled: string[] = []
    const track = (p: Promise<unknown>, name: string) =>
      p.then(
        () => settled.push(`${name}:ok`),
        (e: { reason?: string }) => settled.push(`${name}:refused:${e.reason}`),
      )
    // The server stalls; five actions go out on the still-open socket and are never answered.
    server.proc.kill('SIGSTOP')
    const inFlight = Array.from({ length: 5 }, (_, i) => track(r.patch(counterOf(r), 'increment', 1), `one${i}`))
    await new Promise((res) => setTimeout(res, 100))
    server.proc.kill('SIGKILL')
    await server.exited
    await until(() => r.status !== 'connected', { message: 'client noticed the drop' })
    // Offline: five more, queued.
    const offline = Array.from({ length: 5 }, (_, i) => track(r.patch(counterOf(r), 'increment', 10), `ten${i}`))
    expect(r.actions.snapshot(counterOf(r)).value).toBe(155)

    server = await startChild(dir, port)
    await Promise.all([...inFlight, ...offline])
    expect(settled.sort()).toEqual([...Array.from({ length: 5 }, (_, i) => `one${i}:ok`), ...Array.from({ length: 5 }, (_, i) => `ten${i}:ok`)].sort())
    await until(() => counterOf(r).get('value') === 155, { message: `155, have ${counterOf(r).get('value')}` })
    expect(r.actions.snapshot(counterOf(r)).value).toBe(155)
    expect(r.actions.pendingCount).toBe(0)
  }, 30_000)

  it.each(backendCases)('the server applies each action id once whatever order ids arrive in, and keeps its ledger bounded (%s)', async (_name, backend) => {
    const dir = await storage(backend)
    const start = (port = 0) => startServer({ plugins: [...defaultPlugins(), actionsPlugin({ sets: [counterSet], strict: true })], storage: dir, port })
    let s = await start()
    cleanups.push(() => s.close())
    await s.server.rooms.edit('o', (doc) => {
      const m = new Y.Map<unknown>()
      const meta = new Y.Map<unknown>()
      meta.set('ownerID', 0)
      meta.set('actions', counterSet.name)
      m.set('$meta', meta)
      m.set('value', 0)
      doc.getMap('models').set('counter', m)
    })
    const r = client(s.url, 'o')
    await r.whenSynced()
    const send = (seq: number, by: number) =>
      r.request('action', { client: 'c1', seq, path: ['models', 'counter'], action: 'increment', args: [by] })
    const value = () => (s.server.rooms.get('o')!.doc.getMap('models').get('counter') as Y.Map<unknown>).get('value')
    // Higher ids first (queued offline), then the interrupted lower ones.
    for (const seq of [6, 7, 8, 9, 10]) expect(await send(seq, 10)).toMatchObject({ ok: true, result: { duplicate: false } })
    for (const seq of [1, 2, 3, 4, 5]) expect(await send(seq, 1)).toMatchObject({ ok: true, result: { duplicate: false } })
    expect(value()).toBe(55)
    // Every id again, in any order: nothing applies twice, also after a restart.
    const port = s.port
    await s.close()
    s = await start(port)
    await until(() => r.status === 'connected', { timeout: 10_000, message: 'reconnected' })
    for (const seq of [3, 10, 1, 7, 5, 2, 9, 4, 8, 6]) expect(await send(seq, 1)).toMatchObject({ ok: true, result: { duplicate: true } })
    expect(value()).toBe(55)
    // A gap (an id refused or still on its way) does not make later ids look applied, and
    // the ledger stays small: ids are folded into a low-water mark.
    expect(await send(12, 1)).toMatchObject({ result: { duplicate: false } })
    expect(await send(11, 1)).toMatchObject({ result: { duplicate: false } })
    for (let seq = 13; seq <= 400; seq++) await send(seq, 0)
    expect(value()).toBe(57)
    const entry = (s.server.rooms.get('o')!.doc.getMap('$room').get('actions') as Y.Map<unknown>).get('c1')
    expect(JSON.stringify(entry).length).toBeLessThan(100)
    // A ledger written by an older server (a plain number: the last id) still deduplicates.
    await s.server.rooms.edit('o', (doc) => (doc.getMap('$room').get('actions') as Y.Map<unknown>).set('old', 5))
    const old = (seq: number) => r.request('action', { client: 'old', seq, path: ['models', 'counter'], action: 'increment', args: [1] })
    expect(await old(3)).toMatchObject({ result: { duplicate: true } })
    expect(await old(7)).toMatchObject({ result: { duplicate: false } })
    expect(await old(6)).toMatchObject({ result: { duplicate: false } })
    expect(value()).toBe(59)
  }, 30_000)
})
