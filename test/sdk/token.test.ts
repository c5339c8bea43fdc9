/**
 * The SDK's tokens: a token function called on every (re)connect and on the server's refresh
 * request (the connection stays open across an expiry), a fixed token that expires, kicks,
 * and the reconnect backoff's full jitter.
 */
import { describe, expect, it } from 'vitest'
import { SignJWT } from 'jose'
import { CloseCode } from '../../src/shared/protocol/close-codes.js'
import { backoffDelay, type StatusEvent } from '../../src/index.js'
import { until } from '../helpers.js'
import { join, roomName, sdkServer } from './util.js'

const SECRET = 'sdk-test-secret-of-at-least-32-bytes'
const key = new TextEncoder().encode(SECRET)
const sign = (sub: string, exp: number | string, extra: Record<string, unknown> = {}) =>
  new SignJWT({ sub, ...extra }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime(exp).sign(key)
const inSeconds = (n: number) => Math.floor(Date.now() / 1000) + n

describe('SDK tokens', () => {
  it('an async token function refreshes a token that expires mid-session: same connection, writes go on', async () => {
    const s = await sdkServer({ jwtSecret: SECRET, tokenRefreshGraceMs: 300 })
    const room = roomName('token')
    let calls = 0
    // The first token expires within 1-2 s; the refreshed ones last an hour.
    const token = async () => {
      calls++
      await new Promise((r) => setTimeout(r, 10)) // an auth endpoint
      return sign('alice', calls === 1 ? inSeconds(1) : '1h', { n: calls })
    }
    const a = await join(s.url, room, { token })
    const b = await join(s.url, room, { token: await sign('bob', '1h') })
    const statuses: StatusEvent[] = []
    a.on('status', (e) => statuses.push(e))
    const connectionId = a.welcome!.connectionId
    a.doc.getMap('m').set('before', 1)
    await until(() => b.doc.getMap('m').get('before') === 1)

    await until(() => calls === 2, { message: 'token refreshed', timeout: 4000 })
    const conn = [...s.server.connections].find((c) => c.principal.id === 'alice')!
    await until(() => (conn.principal.data as { n?: number }).n === 2, { message: 'server took the new token' })
    // Past the grace period: still the same connection, still writing.
    await new Promise((r) => setTimeout(r, 400))
    a.doc.getMap('m').set('after', 2)
    await until(() => b.doc.getMap('m').get('after') === 2, { message: 'write after refresh' })
    expect(statuses).toEqual([])
    expect(a.status).toBe('connected')
    expect(a.welcome!.connectionId).toBe(connectionId)
    expect(conn.closed).toBe(false)
    expect(calls).toBe(2)
  })

  it('the token function is called again on every reconnect', async () => {
    const s = await sdkServer({ jwtSecret: SECRET })
    let calls = 0
    const r = await join(s.url, roomName('token'), { token: async () => sign('carol', '1h', { n: ++calls }) })
    expect(calls).toBe(1)
    for (const c of s.server.connections) c.close(CloseCode.TRY_AGAIN_LATER, 'test: reconnect')
    await until(() => calls === 2 && r.synced, { message: 'reconnected' })
    expect([...s.server.connections].map((c) => (c.principal.data as { n: number }).n)).toEqual([2])
  })

  it('a token function that throws is retried with backoff', async () => {
    const s = await sdkServer({ jwtSecret: SECRET })
    let calls = 0
    const r = await join(s.url, roomName('token'), {
      token: async () => {
        if (++calls < 3) throw new Error('auth endpoint down')
        return sign('dora', '1h')
      },
    })
    expect(calls).toBe(3)
    expect(r.synced).toBe(true)
  })

  it('a fixed token that expires: closed with 4419, and the reconnect is refused for good (4401)', async () => {
    const s = await sdkServer({ jwtSecret: SECRET, tokenRefreshGraceMs: 50 })
    const r = await join(s.url, roomName('token'), { token: await sign('erin', inSeconds(1)) })
    const statuses: StatusEvent[] = []
    r.on('status', (e) => statuses.push(e))
    await until(() => r.status === 'closed', { message: 'closed for good', timeout: 4000 })
    const closes = statuses.filter((e) => e.code !== undefined)
    expect(closes[0]).toMatchObject({ code: CloseCode.TOKEN_EXPIRED, willReconnect: true })
    expect(closes.at(-1)).toMatchObject({ code: CloseCode.UNAUTHORIZED, reason: 'token expired', willReconnect: false })
  })

  it('a kicked room is closed (4410) and does not reconnect', async () => {
    const s = await sdkServer({ jwtSecret: SECRET })
    const r = await join(s.url, roomName('token'), { token: () => sign('finn', '1h') })
    const closed = new Promise<StatusEvent>((resolve) => r.on('status', (e) => e.code !== undefined && resolve(e)))
    expect(s.server.kick('finn', 'bye')).toBe(1)
    expect(await closed).toEqual({ status: 'closed', code: CloseCode.KICKED, reason: 'bye', willReconnect: false })
  })
})

describe('reconnect backoff', () => {
  it('is exponential, capped, with full jitter', () => {
    expect(backoffDelay(0, 100, 2500, () => 0)).toBe(0)
    expect(backoffDelay(0, 100, 2500, () => 0.999)).toBe(99)
    expect(backoffDelay(3, 100, 2500, () => 0.5)).toBe(400)
    expect(backoffDelay(10, 100, 2500, () => 0.999)).toBe(2497)
    expect(backoffDelay(5000, 100, 2500, () => 0.5)).toBe(1250)
    const samples = Array.from({ length: 200 }, () => backoffDelay(4, 100, 2500))
    expect(Math.min(...samples)).toBeGreaterThanOrEqual(0)
    expect(Math.max(...samples)).toBeLessThan(1600)
    expect(new Set(samples).size).toBeGreaterThan(50) // spread, not one value
  })
})
