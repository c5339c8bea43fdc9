/**
 * JWT out of the box (HS256, ES256 from a PEM key, a JWKS over HTTP), tokens that expire
 * mid-session (refresh over the extension protocol, 4419 without), and rights changed on
 * live connections (setReadOnly, kick: 4410). Tokens are signed here with jose.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { createServer as createHttpServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import WebSocket from 'ws'
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type JWTPayload } from 'jose'
import { createServer } from '../../server/index.js'
import { CloseCode } from '../../src/shared/protocol/close-codes.js'
import { encodeToken, ExtKind } from '../../src/shared/protocol/extension.js'
import { connectProvider, RawClient, startServer, until, type ProviderClient, type TestServer } from '../helpers.js'
import { startChildServer } from '../child-server.js'
import { jwtAuthenticator } from '../../plugins/jwt.js'
import { Refusal } from '../../server/index.js'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join as joinPath } from 'node:path'

const SECRET = 'test-secret-of-at-least-32-bytes!!'
const secretKey = new TextEncoder().encode(SECRET)

let s: TestServer | undefined
const clients: ProviderClient[] = []
const raws: RawClient[] = []
let jwks: Server | undefined
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy()
  for (const r of raws.splice(0)) r.ws.terminate()
  await s?.close()
  s = undefined
  if (jwks) await new Promise((r) => jwks!.close(r))
  jwks = undefined
})

/** Seconds since the epoch, as `exp` wants them. */
const now = () => Math.floor(Date.now() / 1000)

function hs256(claims: JWTPayload & { rooms?: string[]; readOnly?: boolean }, exp: number | string = '1h', key: Uint8Array = secretKey): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime(exp).sign(key)
}

function closeOf(url: string): Promise<{ code: number; reason: string }> {
  const ws = new WebSocket(url)
  return new Promise((resolve, reject) => {
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() }))
    ws.once('error', reject)
  })
}

async function join(room: string, token: string): Promise<ProviderClient> {
  const c = await connectProvider(s!.url, room, { params: { token } })
  clients.push(c)
  return c
}

async function raw(room: string, token: string): Promise<RawClient> {
  const r = new RawClient(s!.url, room, { query: `?token=${encodeURIComponent(token)}` })
  raws.push(r)
  await r.open()
  r.hello()
  await r.sync()
  return r
}

const principalsIn = (room: string) => [...s!.server.rooms.get(room)!.connections].map((c) => c.principal)

describe('JWT (HS256 secret)', () => {
  it('sub is the principal, the claims its data; bad, expired or missing tokens are refused with 4401', async () => {
    s = await startServer({ jwtSecret: SECRET })
    await join('doc', await hs256({ sub: 'alice', team: 'blue' }))
    const [p] = principalsIn('doc')
    expect(p).toMatchObject({ id: 'alice', anonymous: false, data: { sub: 'alice', team: 'blue' } })
    expect(p.readOnly).toBeUndefined()
    expect(p.expiresAt).toBeGreaterThan(Date.now())

    const wrongKey = await hs256({ sub: 'alice' }, '1h', new TextEncoder().encode('another-secret-another-secret-!!'))
    expect(await closeOf(`${s.url}/doc?token=${wrongKey}`)).toEqual({ code: CloseCode.UNAUTHORIZED, reason: 'token signature is invalid' })
    const expired = await hs256({ sub: 'alice' }, now() - 10)
    expect(await closeOf(`${s.url}/doc?token=${expired}`)).toEqual({ code: CloseCode.UNAUTHORIZED, reason: 'token expired' })
    expect(await closeOf(`${s.url}/doc`)).toEqual({ code: CloseCode.UNAUTHORIZED, reason: 'token required' })
    expect(await closeOf(`${s.url}/doc?token=not.a.jwt`)).toEqual({ code: CloseCode.UNAUTHORIZED, reason: 'token is malformed' })
    const noSub = await hs256({})
    expect(await closeOf(`${s.url}/doc?token=${noSub}`)).toEqual({ code: CloseCode.UNAUTHORIZED, reason: 'token has no sub claim' })
    // A token signed with "none" is never accepted.
    const unsigned = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"sub":"x"}').toString('base64url')}.`
    expect((await closeOf(`${s.url}/doc?token=${unsigned}`)).code).toBe(CloseCode.UNAUTHORIZED)
    expect(s.server.connections.size).toBe(1)
  })

  it('rooms: exact names and prefix/* patterns; another room is refused with 4403', async () => {
    s = await startServer({ jwtSecret: SECRET })
    const token = await hs256({ sub: 'bob', rooms: ['lobby', 'team-7/*'] })
    await join('lobby', token)
    await join('team-7/plan', token)
    await join('team-7/a/b', token)
    expect(await closeOf(`${s.url}/lobby2?token=${token}`)).toEqual({ code: CloseCode.FORBIDDEN, reason: 'token does not allow room lobby2' })
    expect((await closeOf(`${s.url}/team-8/plan?token=${token}`)).code).toBe(CloseCode.FORBIDDEN)
    const malformed = await hs256({ sub: 'bob', rooms: 'lobby' as unknown as string[] })
    expect((await closeOf(`${s.url}/lobby?token=${malformed}`)).code).toBe(CloseCode.UNAUTHORIZED)
  })

  it('readOnly: true makes the connection read-only: its writes are rolled back', async () => {
    s = await startServer({ jwtSecret: SECRET, tickMs: 10 })
    const writer = await join('ro', await hs256({ sub: 'writer' }))
    writer.doc.getMap('m').set('keep', 'v')
    const viewer = await join('ro', await hs256({ sub: 'viewer', readOnly: true }))
    await until(() => viewer.doc.getMap('m').get('keep') === 'v')
    viewer.doc.getMap('m').set('intruder', 'x')
    await until(() => viewer.doc.getMap('m').get('intruder') === undefined, { message: 'viewer rolled back' })
    writer.doc.getMap('m').set('later', 1)
    await until(() => viewer.doc.getMap('m').get('later') === 1)
    expect(writer.doc.getMap('m').get('intruder')).toBeUndefined()
    expect(s.server.rooms.get('ro')!.doc.getMap('m').toJSON()).toEqual({ keep: 'v', later: 1 })
  })

  it('jwtAuthenticator composes into an authenticate hook', async () => {
    const jwt = jwtAuthenticator({ secret: SECRET })
    s = await startServer({
      authenticate: async (ctx) => {
        const principal = await jwt(ctx)
        if (principal.id === 'banned') throw new Refusal('forbidden', 'banned')
        return { ...principal, data: { via: 'hook' } }
      },
    })
    await join('mix', await hs256({ sub: 'ok' }))
    expect(principalsIn('mix')[0]).toMatchObject({ id: 'ok', data: { via: 'hook' } })
    expect(await closeOf(`${s.url}/mix?token=${await hs256({ sub: 'banned' })}`)).toEqual({ code: CloseCode.FORBIDDEN, reason: 'banned' })
    expect((await closeOf(`${s.url}/mix?token=${await hs256({ sub: 'ok' }, now() - 5)}`)).code).toBe(CloseCode.UNAUTHORIZED)
  })

  it('is refused together with an authenticate hook (compose with jwtAuthenticator instead)', async () => {
    await expect(createServer({ storage: ':memory:', logger: 'silent', jwtSecret: SECRET, authenticate: () => ({ id: 'x', anonymous: false }) })).rejects.toThrow(
      /either an authenticate hook or JWT options/,
    )
  })
})

describe('JWT (public keys)', () => {
  it('ES256 with a PEM public key; an HS256 token is refused', async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true })
    s = await startServer({ jwtPublicKey: await exportSPKI(publicKey) })
    const token = await new SignJWT({ sub: 'carol' }).setProtectedHeader({ alg: 'ES256' }).setExpirationTime('1h').sign(privateKey)
    await join('es', token)
    expect(principalsIn('es')[0].id).toBe('carol')
    expect((await closeOf(`${s.url}/es?token=${await hs256({ sub: 'carol' })}`)).code).toBe(CloseCode.UNAUTHORIZED)
    const other = await generateKeyPair('ES256')
    const forged = await new SignJWT({ sub: 'carol' }).setProtectedHeader({ alg: 'ES256' }).setExpirationTime('1h').sign(other.privateKey)
    expect(await closeOf(`${s.url}/es?token=${forged}`)).toEqual({ code: CloseCode.UNAUTHORIZED, reason: 'token signature is invalid' })
  })

  it('RS256 public key: an HS256 token keyed with the public key PEM itself (algorithm confusion) is refused', async () => {
    const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true })
    const pem = await exportSPKI(publicKey)
    s = await startServer({ jwtPublicKey: pem })
    const good = await new SignJWT({ sub: 'dave' }).setProtectedHeader({ alg: 'RS256' }).setExpirationTime('1h').sign(privateKey)
    await join('rs', good)
    for (const key of [pem, pem.trim()]) {
      const confused = await hs256({ sub: 'mallory' }, '1h', new TextEncoder().encode(key))
      expect(await closeOf(`${s.url}/rs?token=${confused}`)).toEqual({ code: CloseCode.UNAUTHORIZED, reason: 'token algorithm not allowed' })
    }
  })

  it('a JWKS served over HTTP; issuer and audience are checked; an unreachable JWKS is 1013', async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true })
    let fetches = 0
    jwks = createHttpServer(async (_req, res) => {
      fetches++
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }] }))
    })
    await new Promise<void>((r) => jwks!.listen(0, '127.0.0.1', r))
    const jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/.well-known/jwks.json`
    s = await startServer({ jwksUrl, jwtIssuer: 'https://auth.example', jwtAudience: 'yroom' })
    const sign = (claims: JWTPayload, kid = 'k1', key = privateKey) =>
      new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid }).setIssuer('https://auth.example').setAudience('yroom').setExpirationTime('1h').sign(key)
    await join('jwks', await sign({ sub: 'dave' }))
    await join('jwks', await sign({ sub: 'erin' }))
    expect(principalsIn('jwks').map((p) => p.id).sort()).toEqual(['dave', 'erin'])
    expect(fetches).toBe(1) // cached
    const wrongAudience = await new SignJWT({ sub: 'dave' }).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setIssuer('https://auth.example').setAudience('other').setExpirationTime('1h').sign(privateKey)
    expect(await closeOf(`${s.url}/jwks?token=${wrongAudience}`)).toEqual({ code: CloseCode.UNAUTHORIZED, reason: 'token claim aud invalid: check_failed' })
    const other = await generateKeyPair('ES256')
    expect((await closeOf(`${s.url}/jwks?token=${await sign({ sub: 'dave' }, 'k1', other.privateKey)}`)).code).toBe(CloseCode.UNAUTHORIZED)

    // The key server goes away: a token with a key id not cached needs a fetch, which fails.
    await s.close()
    await new Promise((r) => jwks!.close(r))
    jwks = undefined
    s = await startServer({ jwksUrl })
    const { code, reason } = await closeOf(`${s.url}/jwks?token=${await sign({ sub: 'dave' })}`)
    expect({ code, reason }).toEqual({ code: CloseCode.TRY_AGAIN_LATER, reason: 'token keys (JWKS) unavailable; try again' })
  })
})

describe('yroom serve', () => {
  it('--jwt-secret and --jwt-public-key FILE', async () => {
    const a = await startChildServer(['--data', ':memory:', '--jwt-secret', SECRET])
    try {
      const good = await hs256({ sub: 'cli', rooms: ['r'] })
      expect((await closeOf(`${a.url}/r?token=${await hs256({ sub: 'cli' }, '1h', new TextEncoder().encode('x'.repeat(32)))}`)).code).toBe(CloseCode.UNAUTHORIZED)
      expect((await closeOf(`${a.url}/other?token=${good}`)).code).toBe(CloseCode.FORBIDDEN)
      const c = await connectProvider(a.url, 'r', { params: { token: good } })
      c.destroy()
    } finally {
      await a.kill()
    }
    const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true })
    const file = joinPath(mkdtempSync(joinPath(tmpdir(), 'yroom-jwt-')), 'public.pem')
    writeFileSync(file, await exportSPKI(publicKey))
    const b = await startChildServer(['--data', ':memory:', '--jwt-public-key', file])
    try {
      const token = await new SignJWT({ sub: 'cli' }).setProtectedHeader({ alg: 'RS256' }).setExpirationTime('1h').sign(privateKey)
      const c = await connectProvider(b.url, 'r', { params: { token } })
      c.destroy()
      expect((await closeOf(`${b.url}/r?token=${await hs256({ sub: 'cli' })}`)).code).toBe(CloseCode.UNAUTHORIZED)
    } finally {
      await b.kill()
    }
  })
})

describe('tokens that expire mid-session', () => {
  it('a stock y-websocket client is closed with 4419 at expiry', async () => {
    s = await startServer({ jwtSecret: SECRET, tokenRefreshGraceMs: 50 })
    const exp = now() + 1
    const c = await join('stock', await hs256({ sub: 'frank' }, exp))
    const closed = new Promise<{ code: number; reason: string }>((resolve) =>
      c.provider.once('connection-close', (event) => resolve({ code: event?.code ?? 0, reason: event?.reason ?? '' })),
    )
    const { code, reason } = await closed
    expect({ code, reason }).toEqual({ code: CloseCode.TOKEN_EXPIRED, reason: 'token expired' })
    expect(Date.now()).toBeGreaterThanOrEqual(exp * 1000)
  })

  it('an extension client gets REFRESH_TOKEN; a new token keeps it open, none closes it with 4419 after the grace period', async () => {
    s = await startServer({ jwtSecret: SECRET, tokenRefreshGraceMs: 150 })
    const exp = now() + 1
    const a = await raw('ext', await hs256({ sub: 'gina' }, exp))
    const b = await raw('ext', await hs256({ sub: 'gina' }, exp))
    const asked = (r: RawClient) => r.ext.find((m) => m.kind === ExtKind.REFRESH_TOKEN)
    await until(() => asked(a) && asked(b), { message: 'refresh requests' })
    expect(asked(a)!.body).toEqual({ expiresAt: exp * 1000, graceMs: 150 })
    // a answers with a new token, readOnly this time: the new rights apply.
    a.send(encodeToken({ token: await hs256({ sub: 'gina', readOnly: true }) }))
    await b.closed
    expect({ code: b.closeCode, reason: b.closeReason }).toEqual({ code: CloseCode.TOKEN_EXPIRED, reason: 'token expired; no new token within 150 ms' })
    await until(() => principalsIn('ext')[0]?.readOnly === true, { message: 'new rights' })
    expect(a.closeCode).toBeNull()
    const conn = [...s.server.connections][0]
    expect(conn.principal.expiresAt).toBeGreaterThan(Date.now() + 30 * 60_000)
    expect(conn.readOnly).toBe(true)
  })

  it('a refreshed token that is invalid or names another principal closes with 4401', async () => {
    s = await startServer({ jwtSecret: SECRET })
    const a = await raw('swap', await hs256({ sub: 'hank' }))
    a.send(encodeToken({ token: await hs256({ sub: 'ivan' }) }))
    await a.closed
    expect({ code: a.closeCode, reason: a.closeReason }).toEqual({
      code: CloseCode.UNAUTHORIZED,
      reason: 'token refresh refused: the new token is for another principal',
    })
    const b = await raw('swap', await hs256({ sub: 'hank' }))
    b.send(encodeToken({ token: await hs256({ sub: 'hank' }, now() - 5) }))
    await b.closed
    expect({ code: b.closeCode, reason: b.closeReason }).toEqual({ code: CloseCode.UNAUTHORIZED, reason: 'token refresh refused: token expired' })
    const c = await raw('swap', await hs256({ sub: 'hank' }))
    c.send(encodeToken({ token: await hs256({ sub: 'hank', rooms: ['elsewhere'] }) }))
    await c.closed
    expect(c.closeCode).toBe(CloseCode.FORBIDDEN)
  })
})

describe('rights changed on live connections', () => {
  it('setReadOnly: the next write of every connection of the principal is rolled back; false lifts it', async () => {
    s = await startServer({ jwtSecret: SECRET, tickMs: 10 })
    const writer = await join('live', await hs256({ sub: 'judy' }))
    const other = await join('live', await hs256({ sub: 'kate' }))
    writer.doc.getMap('m').set('before', 1)
    await until(() => other.doc.getMap('m').get('before') === 1)

    expect(s.server.setReadOnly('judy', true)).toBe(1)
    expect(s.server.setReadOnly('nobody', true)).toBe(0)
    writer.doc.getMap('m').set('after', 2)
    await until(() => writer.doc.getMap('m').get('after') === undefined, { message: 'write rolled back' })
    expect(other.doc.getMap('m').get('after')).toBeUndefined()

    expect(s.server.setReadOnly('judy', false)).toBe(1)
    writer.doc.getMap('m').set('again', 3)
    await until(() => other.doc.getMap('m').get('again') === 3, { message: 'writable again' })
    expect(s.server.rooms.get('live')!.doc.getMap('m').toJSON()).toEqual({ before: 1, again: 3 })
  })

  it('kick closes every connection of the principal with 4410 and the reason; others stay', async () => {
    s = await startServer({ jwtSecret: SECRET })
    const a = await raw('k1', await hs256({ sub: 'leo' }))
    const b = await raw('k2', await hs256({ sub: 'leo' }))
    const c = await raw('k1', await hs256({ sub: 'mia' }))
    expect(s.server.kick('leo', 'removed from the team')).toBe(2)
    await Promise.all([a.closed, b.closed])
    for (const r of [a, b]) expect({ code: r.closeCode, reason: r.closeReason }).toEqual({ code: CloseCode.KICKED, reason: 'removed from the team' })
    await until(() => s!.server.connections.size === 1)
    expect(c.closeCode).toBeNull()
    expect(s.server.kick('nobody')).toBe(0)
  })
})
