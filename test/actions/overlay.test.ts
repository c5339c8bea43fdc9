/**
 * Issue 21, defect 2: `updated()` must never show a state that neither the server nor the
 * optimistic view ever had. The server broadcasts an action's effect before it answers; the
 * client must not add the still-unanswered action on top of confirmed state that already
 * contains it. Real server, real sockets; the property test adds random actions, dropped
 * sockets and delays (incoming messages held back, asynchronous server validation).
 */
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import WebSocket from 'ws'
import { defaultPlugins } from '../../plugins/index.js'
import { actionsPlugin } from '../../plugins/actions/index.js'
import { ActionClient } from '../../src/sdk/actions.js'
import { ActionRefused, defineActions } from '../../src/shared/actions/define.js'
import { canonical, plainOf, type JsonObject } from '../../src/shared/actions/snapshot.js'
import { connect, type Room } from '../../src/sdk/index.js'
import type { WebSocketConstructor } from '../../src/sdk/transport.js'
import { mulberry32, startServer, until, type TestServer } from '../helpers.js'

type Log = { items: string[]; n: number }
const logFns = {
  add: (d: Log, id: string) => {
    d.items.push(id)
    d.n += 1
  },
  /** Refused on odd counts: other clients' actions make the server refuse what the client allowed. */
  addIfEven: (d: Log, id: string) => {
    if (d.n % 2 !== 0) throw new ActionRefused('odd', `n = ${d.n}`)
    d.items.push(id)
    d.n += 1
  },
  increment: (d: { value: number }, by: number) => void (d.value += by),
}
const clientLog = defineActions(logFns, { name: 'log', actionOnly: true })

const cleanups: Array<() => Promise<unknown> | unknown> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

async function serverWith(delay: () => number): Promise<TestServer> {
  // The server's copy validates asynchronously after a random delay: answers come late.
  const schema = {
    '~standard': {
      version: 1 as const,
      vendor: 'test',
      validate: (v: unknown) => new Promise<{ value: unknown }>((res) => setTimeout(() => res({ value: v }), delay())),
    },
  }
  const serverLog = defineActions(logFns, { name: 'log', actionOnly: true, schema })
  const s = await startServer({ plugins: [...defaultPlugins(), actionsPlugin({ sets: [serverLog], strict: true })], tickMs: 5 })
  cleanups.push(() => s.close())
  return s
}

async function model(s: TestServer, room: string, data: Record<string, unknown>) {
  await s.server.rooms.edit(room, (doc) => {
    const m = new Y.Map<unknown>()
    const meta = new Y.Map<unknown>()
    meta.set('ownerID', 0)
    meta.set('actions', 'log')
    m.set('$meta', meta)
    for (const [k, v] of Object.entries(data)) m.set(k, v)
    doc.getMap('models').set('m', m)
  })
}

/** A `ws` socket whose incoming messages are held back a random while (order kept), and that can be cut. */
function slowSockets(delay: () => number) {
  const open = new Set<WebSocket>()
  class Slow extends WebSocket {
    private chain = Promise.resolve()
    private handler: ((ev: WebSocket.MessageEvent) => void) | null = null
    constructor(url: string) {
      super(url)
      open.add(this)
      this.addEventListener('close', () => open.delete(this))
      this.addEventListener('message', (ev) => {
        const d = delay()
        this.chain = this.chain.then(() => (d > 0 ? new Promise((r) => setTimeout(r, d)) : undefined)).then(() => this.handler?.(ev))
      })
      // The transport sets `onmessage`; keep its handler and call it after the delay.
      Object.defineProperty(this, 'onmessage', {
        get: () => this.handler,
        set: (fn: ((ev: WebSocket.MessageEvent) => void) | null) => (this.handler = fn),
      })
    }
  }
  return { WS: Slow as unknown as WebSocketConstructor, drop: () => [...open].forEach((ws) => ws.terminate()) }
}

function join_(s: TestServer, room: string, WS: WebSocketConstructor): Room {
  const r = connect({ url: s.url, room, actions: [clientLog], WebSocket: WS, reconnect: { minDelayMs: 5, maxDelayMs: 40 } })
  cleanups.push(() => r.destroy())
  return r
}

const mOf = (r: Room) => r.doc.getMap('models').get('m') as Y.Map<unknown>

describe('updated() snapshots (issue 21, defect 2)', () => {
  it('one increment 5 from 0 shows 0 then 5, never 10', async () => {
    const s = await serverWith(() => 0)
    await model(s, 'one', { value: 0 })
    const r = join_(s, 'one', WebSocket as unknown as WebSocketConstructor)
    await r.whenSynced()
    const seen: number[] = []
    r.updated(mOf(r), (snap) => seen.push(snap.value as number))
    await r.patch(mOf(r), 'increment', 5)
    await until(() => mOf(r).get('value') === 5)
    await new Promise((res) => setTimeout(res, 50))
    expect(seen).toEqual([0, 5])
  })

  for (const seed of [1, 21, 4242]) {
    it(`property (seed ${seed}): every snapshot is confirmed state plus a prefix of the unconfirmed overlay`, async () => {
      const rnd = mulberry32(seed)
      const s = await serverWith(() => (rnd() < 0.5 ? 0 : Math.floor(rnd() * 15)))
      await model(s, 'p', { items: [], n: 0 })
      const a = slowSockets(() => (rnd() < 0.6 ? 0 : Math.floor(rnd() * 10)))
      const b = slowSockets(() => 0)
      const roomA = join_(s, 'p', a.WS)
      const roomB = join_(s, 'p', b.WS)
      await Promise.all([roomA.whenSynced(), roomB.whenSynced()])

      // A's own ActionClient on a channel that marks each answer before the client sees it.
      const answered = new Set<string>()
      const client = new ActionClient(
        {
          request: (m, p) =>
            roomA.request(m, p).then((res) => {
              answered.add((p as { args: string[] }).args[0])
              return res
            }),
          onConnected: (fn) => roomA.on('synced', fn),
        },
        { sets: [clientLog] },
      )
      cleanups.push(() => client.destroy())

      const issued: Array<{ id: string; action: 'add' | 'addIfEven' }> = []
      const outcomes = new Map<string, string>()
      const violations: string[] = []
      const fold = (base: JsonObject, overlay: typeof issued): string[] => {
        const states = [canonical(base)]
        let d = structuredClone(base) as Log
        for (const o of overlay) {
          const next = structuredClone(d)
          try {
            logFns[o.action](next, o.id)
            d = next
          } catch {
            // refused locally: shown without it, as the client does
          }
          states.push(canonical(d))
        }
        return states
      }
      client.updated(mOf(roomA), (snap) => {
        const confirmed = plainOf(mOf(roomA))
        const have = new Set((confirmed.items as string[]) ?? [])
        const overlay = issued.filter((o) => !answered.has(o.id) && !have.has(o.id))
        if (!fold(confirmed, overlay).includes(canonical(snap))) {
          violations.push(`snapshot ${canonical(snap)} from confirmed ${canonical(confirmed)} + [${overlay.map((o) => o.id)}]`)
        }
      })

      const all: Promise<unknown>[] = []
      for (let step = 0; step < 80; step++) {
        const x = rnd()
        if (x < 0.5) {
          const o = { id: `a${step}`, action: rnd() < 0.5 ? ('add' as const) : ('addIfEven' as const) }
          issued.push(o)
          all.push(
            client.patch(mOf(roomA), o.action, o.id).then(
              () => outcomes.set(o.id, 'ok'),
              (e: ActionRefused) => outcomes.set(o.id, `refused:${e.reason}`),
            ),
          )
        } else if (x < 0.7) {
          all.push(roomB.patch(mOf(roomB), rnd() < 0.5 ? 'add' : 'addIfEven', `b${step}`).catch(() => {}))
        } else if (x < 0.75) {
          a.drop()
        } else if (x < 0.78) {
          b.drop()
        } else {
          await new Promise((res) => setTimeout(res, Math.floor(rnd() * 20)))
        }
      }
      await Promise.all(all)
      const server = () => plainOf(s.server.rooms.get('p')!.doc.getMap('models').get('m') as Y.Map<unknown>)
      await until(() => canonical(plainOf(mOf(roomA))) === canonical(server()), { message: 'A in sync' })
      expect(violations).toEqual([])
      expect(canonical(client.snapshot(mOf(roomA)))).toBe(canonical(server()))
      // Every action of A settled once: applied exactly once, or refused and absent.
      const items = server().items as string[]
      for (const o of issued) {
        const count = items.filter((i) => i === o.id).length
        expect(outcomes.has(o.id), o.id).toBe(true)
        expect(count, `${o.id} ${outcomes.get(o.id)}`).toBe(outcomes.get(o.id) === 'ok' ? 1 : 0)
      }
      expect(outcomes.size).toBe(issued.length)
    }, 30_000)
  }
})
