/** The authenticate hook (?token=), refusals with 4401/4403, and read-only principals. */
import { afterEach, describe, expect, it } from 'vitest'
import type { IncomingMessage } from 'node:http'
import * as Y from 'yjs'
import WebSocket from 'ws'
import { Refusal, type AuthenticateContext, type Principal } from '../../server/index.js'
import { CloseCode } from '../../src/shared/protocol/close-codes.js'
import { applyStoredDocument, connectProvider, startServer, until, type ProviderClient, type TestServer } from '../helpers.js'

let s: TestServer
const clients: ProviderClient[] = []
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy()
  await s?.close()
})

async function join(room: string, token?: string): Promise<ProviderClient> {
  const c = await connectProvider(s.url, room, { params: token ? { token } : {} })
  clients.push(c)
  return c
}

const seen: AuthenticateContext[] = []
async function authenticate(ctx: AuthenticateContext): Promise<Principal> {
  seen.push(ctx)
  await new Promise((r) => setTimeout(r, 20)) // an async lookup; messages arriving meanwhile must not be lost
  if (ctx.token === 'alice') return { id: 'alice', anonymous: false }
  if (ctx.token === 'viewer') return { id: 'viewer', anonymous: false, readOnly: true }
  if (ctx.token === 'bob') {
    if (ctx.room.startsWith('private-')) throw new Refusal('forbidden', 'bob may not join private rooms')
    return { id: 'bob', anonymous: false }
  }
  throw new Refusal('unauthorized', 'unknown token')
}

function closeOf(url: string): Promise<{ code: number; reason: string }> {
  const ws = new WebSocket(url)
  return new Promise((resolve, reject) => {
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() }))
    ws.once('error', reject)
  })
}

describe('authenticate hook', () => {
  it('receives room, request and ?token=, and its principal is the connection’s', async () => {
    s = await startServer({ authenticate })
    seen.length = 0
    const a = await join('private-1', 'alice')
    expect(seen).toHaveLength(1)
    expect(seen[0].room).toBe('private-1')
    expect(seen[0].token).toBe('alice')
    expect((seen[0].request as IncomingMessage).headers.upgrade?.toLowerCase()).toBe('websocket')
    const conns = [...s.server.rooms.get('private-1')!.connections]
    expect(conns.map((c) => c.principal.id)).toEqual(['alice'])
    // It synced although its first messages arrived while the hook was still running.
    a.doc.getMap('m').set('x', 1)
    const b = await join('private-1', 'alice')
    expect(b.doc.getMap('m').get('x')).toBe(1)
  })

  it('refuses with 4401 (unauthorized) and 4403 (forbidden), with the reason', async () => {
    s = await startServer({ authenticate })
    expect(await closeOf(`${s.url}/room?token=nope`)).toEqual({ code: CloseCode.UNAUTHORIZED, reason: 'unknown token' })
    expect(await closeOf(`${s.url}/room`)).toEqual({ code: CloseCode.UNAUTHORIZED, reason: 'unknown token' })
    expect(await closeOf(`${s.url}/private-2?token=bob`)).toEqual({
      code: CloseCode.FORBIDDEN,
      reason: 'bob may not join private rooms',
    })
    // Refused connections create no room and leave no connection behind.
    expect(s.server.rooms.all.size).toBe(0)
    expect(s.server.connections.size).toBe(0)
    await join('public', 'bob')
  })

  it('a refusal with a reason longer than a close frame allows is shortened, not fatal', async () => {
    s = await startServer({
      authenticate: () => {
        throw new Refusal('unauthorized', 'ü'.repeat(200))
      },
    })
    const { code, reason } = await closeOf(`${s.url}/room`)
    expect(code).toBe(CloseCode.UNAUTHORIZED)
    expect(Buffer.byteLength(reason)).toBeLessThanOrEqual(123)
    expect(reason).toMatch(/^ü+…$/)
    // The server is still up.
    expect((await fetch(`http://127.0.0.1:${s.port}/healthz`)).status).toBe(200)
  })

  it('a hook that returns no principal closes with 1011, not a crash', async () => {
    s = await startServer({ authenticate: (() => undefined) as unknown as () => Principal })
    expect(await closeOf(`${s.url}/room`)).toEqual({ code: 1011, reason: 'authentication failed' })
    expect(s.server.connections.size).toBe(0)
  })

  it('a plugin refusing in onConnect closes with 4403 and its reason', async () => {
    s = await startServer({
      plugins: [
        {
          name: 'gate',
          onConnect: ({ room }) => {
            if (room.name === 'closed') throw new Refusal('forbidden', 'room is closed')
          },
        },
      ],
    })
    expect(await closeOf(`${s.url}/closed`)).toEqual({ code: CloseCode.FORBIDDEN, reason: 'room is closed' })
    await join('open')
  })

  it('data a client piles up while authentication runs is bounded (1008)', async () => {
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    s = await startServer({
      maxBufferedBytes: 10_000,
      authenticate: async () => {
        await gate
        return { id: 'slow', anonymous: false }
      },
    })
    const ws = new WebSocket(`${s.url}/flood`)
    const closed = new Promise<{ code: number; reason: string }>((r) => ws.once('close', (code, reason) => r({ code, reason: reason.toString() })))
    await new Promise((r) => ws.once('open', r))
    for (let i = 0; i < 20; i++) ws.send(new Uint8Array(1000))
    const { code, reason } = await closed
    release()
    expect(code).toBe(CloseCode.POLICY_VIOLATION)
    expect(reason).toMatch(/before the connection was set up/)
    await until(() => s.server.connections.size === 0)
  })

  it('without a hook, every connection is its own anonymous principal', async () => {
    s = await startServer()
    await join('anon')
    await join('anon')
    const ids = [...s.server.rooms.get('anon')!.connections].map((c) => c.principal)
    expect(ids.every((p) => p.anonymous)).toBe(true)
    expect(new Set(ids.map((p) => p.id)).size).toBe(2)
  })
})

describe('read-only principals', () => {
  it('their writes are rolled back on their replica and never reach anyone else', async () => {
    s = await startServer({ authenticate, tickMs: 10 })
    const writer = await join('ro', 'alice')
    writer.doc.getMap('m').set('keep', 'v')
    writer.doc.getText('t').insert(0, 'text')
    const viewer = await join('ro', 'viewer')
    expect(viewer.doc.getMap('m').get('keep')).toBe('v')

    // Everything the writer ever observes: the viewer's writes must never show up.
    const observed: string[] = []
    writer.doc.on('update', () =>
      observed.push(JSON.stringify({ m: writer.doc.getMap('m').toJSON(), t: writer.doc.getText('t').toString() })),
    )

    viewer.doc.transact(() => {
      viewer.doc.getMap('m').set('intruder', 'x')
      viewer.doc.getMap('m').delete('keep')
      viewer.doc.getText('t').insert(0, 'HACK ')
      viewer.doc.getArray('a').push([1])
    })
    const room = s.server.rooms.get('ro')!
    // The viewer converges on the server's state: its change is undone on its own replica.
    await until(
      () =>
        viewer.doc.getMap('m').get('intruder') === undefined &&
        viewer.doc.getMap('m').get('keep') === 'v' &&
        viewer.doc.getText('t').toString() === 'text' &&
        viewer.doc.getArray('a').length === 0,
      { message: 'viewer rolled back' },
    )
    expect(room.doc.getMap('m').toJSON()).toEqual({ keep: 'v' })
    expect(room.doc.getText('t').toString()).toBe('text')

    // Reads still work for the viewer, and the writer keeps writing.
    writer.doc.getMap('m').set('later', 2)
    await until(() => viewer.doc.getMap('m').get('later') === 2, { message: 'viewer still receives' })
    for (const o of observed) {
      expect(o).not.toContain('intruder')
      expect(o).not.toContain('HACK')
      expect(JSON.parse(o).m.keep).toBe('v')
    }
    expect(writer.doc.getArray('a').length).toBe(0)
    // Stored state has none of it either.
    await room.flush()
    const stored = await s.server.storage.load('ro')
    const d = new Y.Doc()
    applyStoredDocument(d, stored)
    expect(d.getMap('m').toJSON()).toEqual({ keep: 'v', later: 2 })
    expect(d.getText('t').toString()).toBe('text')
  })
})
