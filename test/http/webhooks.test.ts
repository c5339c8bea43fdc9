/**
 * Webhooks (issue 26), end to end: a real server, a real HTTP receiver on loopback, stock
 * clients. Signatures are verified as the docs tell receivers to.
 */
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { actionsPlugin, defaultPlugins } from '../../server/index.js'
import { Metrics } from '../../server/metrics.js'
import { pino } from 'pino'
import { signature, verifySignature, webhooksPlugin } from '../../plugins/webhooks/index.js'
import { defineActions, ActionRefused } from '../../src/index.js'
import { connectProvider, startServer, until } from '../helpers.js'
import { startReceiver } from './webhook-receiver.js'

const SECRET = 'webhook-secret-for-tests'
const KEY = 'api-key-for-webhook-tests'
const cleanup: Array<() => unknown> = []
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c()
})

const counter = defineActions(
  {
    increment: (d: { value: number }) => void (d.value += 1),
    fail: () => {
      throw new ActionRefused('nope', 'refused on purpose')
    },
  },
  { name: 'hook-counter' },
)

describe('webhooks', () => {
  it('signs events so a receiver can verify them, and refuses a stale or altered one', () => {
    const body = '{"type":"room.loaded"}'
    const now = Date.now()
    const ts = Math.floor(now / 1000)
    const sig = signature(SECRET, ts, body)
    expect(sig).toMatch(/^sha256=[0-9a-f]{64}$/)
    expect(verifySignature(SECRET, { signature: sig, timestamp: String(ts) }, body, 300, now)).toBe(true)
    expect(verifySignature('other', { signature: sig, timestamp: String(ts) }, body, 300, now)).toBe(false)
    expect(verifySignature(SECRET, { signature: sig, timestamp: String(ts) }, `${body} `, 300, now)).toBe(false)
    expect(verifySignature(SECRET, { signature: sig, timestamp: String(ts + 1) }, body, 300, now)).toBe(false)
    expect(verifySignature(SECRET, { signature: sig, timestamp: String(ts) }, body, 300, now + 301_000)).toBe(false)
  })

  it('delivers signed events: room loaded/stored/unloaded, clients joined/left, ownership, rejections, actions', async () => {
    const receiver = await startReceiver(SECRET)
    cleanup.push(() => receiver.close())
    const s = await startServer({
      apiKey: KEY,
      webhooks: [receiver.url],
      webhookSecret: SECRET,
      authenticate: ({ token }) => ({ id: token ?? 'anon', anonymous: false, readOnly: token === 'viewer' }),
      plugins: [...defaultPlugins(), actionsPlugin({ sets: [counter] })],
    })
    cleanup.push(() => s.close())

    const alice = await connectProvider(s.url, 'hooked', { params: { token: 'alice' } })
    cleanup.push(() => alice.destroy())
    await until(() => receiver.events('client.joined').length === 1, { message: 'client.joined' })
    expect(receiver.events('room.loaded')).toEqual([expect.objectContaining({ room: 'hooked', data: {} })])
    expect(receiver.events('client.joined')[0].data).toMatchObject({ principal: 'alice', anonymous: false })

    // A model owned by alice: an ownership change, stored.
    alice.doc.transact(() => {
      const model = new Y.Map<unknown>()
      const meta = new Y.Map<unknown>()
      meta.set('ownerID', alice.doc.clientID)
      meta.set('actions', counter.name)
      model.set('$meta', meta)
      model.set('value', 0)
      alice.doc.getMap('models').set('mine', model)
    })
    await until(() => receiver.events('ownership.changed').length === 1, { message: 'ownership.changed' })
    expect(receiver.events('ownership.changed')[0].data).toEqual({ path: ['models', 'mine'], owner: alice.doc.clientID, previousOwner: -1 })
    await until(() => receiver.events('room.stored').length > 0, { message: 'room.stored' })
    expect(receiver.events('room.stored')[0].data.seq).toBeGreaterThan(0)

    // A read-only client's write is rolled back: update.rejected with path and reason.
    const viewer = await connectProvider(s.url, 'hooked', { params: { token: 'viewer' } })
    cleanup.push(() => viewer.destroy())
    viewer.doc.getMap('models').set('intruder', 1)
    await until(() => receiver.events('update.rejected').length === 1, { message: 'update.rejected' })
    expect(receiver.events('update.rejected')[0].data).toMatchObject({
      principal: 'viewer',
      rejections: [{ path: ['models', 'intruder'], reason: 'read-only', message: expect.any(String) }],
    })

    // Actions, applied and refused, run through the HTTP API.
    const run = (action: string) =>
      fetch(`http://127.0.0.1:${s.port}/api/v1/rooms/hooked/actions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${KEY}` },
        body: JSON.stringify({ path: ['models', 'mine'], action, args: [] }),
      })
    expect((await run('increment')).status).toBe(200)
    expect((await run('fail')).status).toBe(409)
    await until(() => receiver.events('action.refused').length === 1, { message: 'action.refused' })
    expect(receiver.events('action.applied')[0].data).toEqual({ path: ['models', 'mine'], action: 'increment', principal: null })
    expect(receiver.events('action.refused')[0].data).toMatchObject({ action: 'fail', reason: 'nope', message: 'refused on purpose' })

    // Leaving and unloading.
    const viewerConn = [...s.server.connections].find((c) => c.principal.id === 'viewer')!.id
    viewer.destroy()
    await until(() => receiver.events('client.left').length === 1, { message: 'client.left' })
    expect(receiver.events('client.left')[0].data).toMatchObject({ principal: 'viewer', connection: viewerConn, clientIds: expect.any(Array) })
    alice.destroy()
    await until(() => receiver.events('client.left').length === 2)
    expect(receiver.events('client.left')[1].data.clientIds).toContain(alice.doc.clientID)
    await until(() => s.server.rooms.get('hooked')?.connections.size === 0)
    await s.server.rooms.unload('hooked')
    await until(() => receiver.events('room.unloaded').length === 1, { message: 'room.unloaded' })

    // Every delivered request was signed correctly, with its event type in a header.
    expect(receiver.received.length).toBeGreaterThan(8)
    for (const r of receiver.received) {
      expect(r.verified).toBe(true)
      expect(r.headers['x-yroom-event']).toBe(r.event.type)
      expect(r.event.id).toMatch(/^[0-9a-f-]{36}$/)
    }
    // Webhooks need a secret.
    await expect(startServer({ webhooks: [receiver.url] })).rejects.toThrow(/secret/)
  })

  it('retries after the endpoint answers 500, and counts it in /metrics', async () => {
    // The first two attempts fail; delivery goes on with backoff until one succeeds.
    const receiver = await startReceiver(SECRET, (n) => (n <= 2 ? 500 : 200))
    cleanup.push(() => receiver.close())
    const s = await startServer({ webhooks: [receiver.url], webhookSecret: SECRET, plugins: defaultPlugins() })
    cleanup.push(() => s.close())
    await s.server.rooms.open('retry')
    await until(() => receiver.events('room.loaded').length === 1, { timeout: 10_000, message: 'the event after two failures' })
    expect(receiver.requests).toBe(3)
    const metrics = await (await fetch(`http://127.0.0.1:${s.port}/metrics`)).text()
    expect(metrics).toMatch(/^yroom_webhook_deliveries_total\{result="retry"\} 2$/m)
    expect(metrics).toMatch(/^yroom_webhook_deliveries_total\{result="ok"\} 1$/m)
  })

  it('gives an event up after its attempts, then goes on with the next', async () => {
    const receiver = await startReceiver(SECRET, (n) => (n <= 3 ? 503 : 200))
    cleanup.push(() => receiver.close())
    const metrics = new Metrics(false)
    const hooks = webhooksPlugin({ urls: [receiver.url], secret: SECRET, maxAttempts: 3, baseDelayMs: 5, metrics })
    cleanup.push(() => hooks.close())
    hooks.emit('r', 'first', {})
    hooks.emit('r', 'second', {})
    await until(() => receiver.received.length === 1)
    expect(receiver.received[0].event.type).toBe('second')
    expect(await metrics.registry.metrics()).toMatch(/^yroom_webhook_deliveries_total\{result="failed"\} 1$/m)
  })

  it('bounds its queue in bytes too: large events (long rejection lists) to a hanging endpoint cannot fill memory', async () => {
    const receiver = await startReceiver(SECRET, () => null)
    cleanup.push(() => receiver.close())
    const hooks = webhooksPlugin({ urls: [receiver.url], secret: SECRET, timeoutMs: 60_000 })
    cleanup.push(() => hooks.close())
    const big = 'x'.repeat(1024 * 1024)
    // 100 events of 1 MiB: well under maxQueue (1000), but 100 MiB if kept.
    for (let i = 0; i < 100; i++) hooks.emit('r', 'update.rejected', { i, big })
    await until(() => receiver.requests === 1)
    expect(hooks.pending * big.length).toBeLessThanOrEqual(17 * 1024 * 1024)
    expect(hooks.dropped).toBe(100 - hooks.pending)
  })

  it('logs an endpoint without its query string or credentials (where a hook URL keeps its token)', async () => {
    const receiver = await startReceiver(SECRET, () => 500)
    cleanup.push(() => receiver.close())
    const lines: string[] = []
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) })
    const url = `${receiver.url}?token=QUERY-TOKEN-SECRET`
    const hooks = webhooksPlugin({ urls: [url], secret: SECRET, maxAttempts: 2, baseDelayMs: 1, logger })
    cleanup.push(() => hooks.close())
    hooks.emit('r', 'room.loaded', {})
    await until(() => lines.some((l) => l.includes('given up')))
    expect(receiver.requests).toBe(2)
    const logged = lines.join('\n')
    expect(logged).not.toContain('QUERY-TOKEN-SECRET')
    expect(logged).not.toContain(SECRET)
    expect(logged).toContain(new URL(receiver.url).host)
    // Credentials in the URL: fetch refuses them every time, quoting them; refused up front.
    expect(() => webhooksPlugin({ urls: ['http://user:PASSWORD@127.0.0.1:9/hook'], secret: SECRET })).toThrow(/credentials/)
    expect(() => webhooksPlugin({ urls: ['http://user:PASSWORD@127.0.0.1:9/hook'], secret: SECRET })).not.toThrow(/PASSWORD/)
  })

  it('bounds its queue when the endpoint never answers, and never holds a room up', async () => {
    const receiver = await startReceiver(SECRET, () => null)
    cleanup.push(() => receiver.close())
    const metrics = new Metrics(false)
    const hooks = webhooksPlugin({ urls: [receiver.url], secret: SECRET, maxQueue: 5, timeoutMs: 60_000, metrics })
    const s = await startServer({ tickMs: 0, plugins: [...defaultPlugins(), hooks] })
    cleanup.push(() => s.close())
    cleanup.push(() => hooks.close())
    const a = await connectProvider(s.url, 'busy')
    const b = await connectProvider(s.url, 'busy')
    cleanup.push(() => a.destroy(), () => b.destroy())
    // Writes flow while the endpoint hangs on the first event.
    for (let i = 0; i < 40; i++) a.doc.getMap('m').set(`k${i}`, i)
    await until(() => b.doc.getMap('m').size === 40, { message: 'all writes at the other client' })
    await until(() => hooks.dropped > 0)
    expect(receiver.requests).toBe(1)
    expect(hooks.pending).toBe(5)
    expect(await metrics.registry.metrics()).toMatch(new RegExp(`^yroom_webhook_dropped_total ${hooks.dropped}$`, 'm'))
    expect(await metrics.registry.metrics()).toMatch(/^yroom_webhook_queue 5$/m)
  })
})
