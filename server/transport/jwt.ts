/**
 * JWT out of the box: a built-in authenticate hook, verified with `jose`. Claims map onto the
 * principal: `sub` is its id, `rooms` the rooms it may join, `readOnly` makes it read-only,
 * `exp` its expiry (the connection is then asked for a new token, token-expiry.ts). Every
 * claim is kept as `principal.data`. docs/server.md#jwt documents it.
 */
import { createPublicKey, createSecretKey, type KeyObject } from 'node:crypto'
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose'
import { Refusal, type AuthenticateHook, type Principal } from '../plugin.js'

export interface JwtOptions {
  /** HS256 (HS384, HS512) shared secret. */
  secret?: string
  /** A PEM public key (SPKI) or certificate: ES256/384/512, RS256/384/512, PS256/384/512 or EdDSA by the key's type. */
  publicKey?: string
  /** A JSON Web Key Set URL; keys are fetched on demand and cached (jose's createRemoteJWKSet). */
  jwksUrl?: string
  /** When set, the `iss` claim must equal it. */
  issuer?: string
  /** When set, the `aud` claim must contain it. */
  audience?: string
}

/** The claims yroom reads; anything else is the application's (`principal.data`). */
export interface YroomClaims extends JWTPayload {
  /** The principal's id (required). */
  sub?: string
  /** Room names the token admits: exact names, or a prefix ending in `*` (`"docs/*"`, `"*"`). Absent: every room. */
  rooms?: string[]
  /** True: every change of the connection is rolled back. */
  readOnly?: boolean
}

const ASYMMETRIC = ['ES256', 'ES384', 'ES512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'EdDSA', 'Ed25519']

/** The algorithms a PEM key can verify, by its type (a key is never used with another algorithm). */
function algorithmsOf(key: KeyObject): string[] {
  const type = key.asymmetricKeyType
  if (type === 'rsa') return ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512']
  if (type === 'rsa-pss') return ['PS256', 'PS384', 'PS512']
  if (type === 'ed25519') return ['EdDSA', 'Ed25519']
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve
    if (curve === 'prime256v1' || curve === 'P-256') return ['ES256']
    if (curve === 'secp384r1' || curve === 'P-384') return ['ES384']
    if (curve === 'secp521r1' || curve === 'P-521') return ['ES512']
  }
  throw new Error(`JWT public key: unsupported key type ${type}${type === 'ec' ? ` (${key.asymmetricKeyDetails?.namedCurve})` : ''}`)
}

/** True when `room` matches one of the `rooms` patterns: an exact name, or a prefix ending in `*`. */
export function roomAllowed(patterns: readonly string[], room: string): boolean {
  return patterns.some((p) => (p.endsWith('*') ? room.startsWith(p.slice(0, -1)) : room === p))
}

/** True when any JWT option is set. */
export function jwtConfigured(o: JwtOptions): boolean {
  return o.secret !== undefined || o.publicKey !== undefined || o.jwksUrl !== undefined
}

/** jose's errors as the reasons a client is told (a close reason: short). */
function refusalOf(err: unknown): Refusal {
  if (err instanceof Refusal) return err
  if (err instanceof errors.JWTExpired) return new Refusal('unauthorized', 'token expired')
  if (err instanceof errors.JWSSignatureVerificationFailed) return new Refusal('unauthorized', 'token signature is invalid')
  if (err instanceof errors.JWTClaimValidationFailed) return new Refusal('unauthorized', `token claim ${err.claim} invalid: ${err.reason}`)
  if (err instanceof errors.JOSEAlgNotAllowed) return new Refusal('unauthorized', 'token algorithm not allowed')
  if (err instanceof errors.JWKSNoMatchingKey) return new Refusal('unauthorized', 'no key of the JWKS matches the token')
  if (err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid || err instanceof errors.JWKSMultipleMatchingKeys) {
    return new Refusal('unavailable', 'token keys (JWKS) unavailable; try again')
  }
  if (err instanceof errors.JOSEError) return new Refusal('unauthorized', 'token is malformed')
  // A failed fetch of the JWKS (network, HTTP status): the server's problem, not the token's.
  return new Refusal('unavailable', 'token keys (JWKS) unavailable; try again')
}

/**
 * The JWT authenticate hook. Exactly one of `secret`, `publicKey`, `jwksUrl`. Refusals:
 * 'unauthorized' (4401) for a missing, malformed, wrongly signed or expired token;
 * 'forbidden' (4403) for a room its `rooms` claim does not admit; 'unavailable' (1013)
 * when the JWKS cannot be fetched.
 */
export function jwtAuthenticator(o: JwtOptions): AuthenticateHook {
  const given = [o.secret, o.publicKey, o.jwksUrl].filter((v) => v !== undefined).length
  if (given !== 1) throw new Error('JWT: give exactly one of jwtSecret, jwtPublicKey, jwksUrl')
  let key: KeyObject | JWTVerifyGetKey
  let algorithms: string[]
  if (o.secret !== undefined) {
    if (o.secret.length === 0) throw new Error('JWT: jwtSecret is empty')
    key = createSecretKey(Buffer.from(o.secret, 'utf8'))
    algorithms = ['HS256', 'HS384', 'HS512']
  } else if (o.publicKey !== undefined) {
    const k = createPublicKey(o.publicKey)
    key = k
    algorithms = algorithmsOf(k)
  } else {
    let url: URL
    try {
      url = new URL(o.jwksUrl!)
    } catch {
      throw new Error(`JWT: jwksUrl is not a URL: ${JSON.stringify(o.jwksUrl)}`)
    }
    key = createRemoteJWKSet(url)
    algorithms = ASYMMETRIC
  }
  const verifyOptions = { algorithms, ...(o.issuer !== undefined ? { issuer: o.issuer } : {}), ...(o.audience !== undefined ? { audience: o.audience } : {}) }

  return async ({ room, token }): Promise<Principal> => {
    if (!token) throw new Refusal('unauthorized', 'token required')
    let claims: YroomClaims
    try {
      // Two overloads (a key, a key function): one call site each keeps TypeScript content.
      const result = typeof key === 'function' ? await jwtVerify(token, key, verifyOptions) : await jwtVerify(token, key, verifyOptions)
      claims = result.payload as YroomClaims
    } catch (err) {
      throw refusalOf(err)
    }
    if (typeof claims.sub !== 'string' || claims.sub === '') throw new Refusal('unauthorized', 'token has no sub claim')
    const rooms: unknown = claims.rooms
    if (rooms !== undefined && !(Array.isArray(rooms) && rooms.every((r) => typeof r === 'string'))) {
      throw new Refusal('unauthorized', 'token claim rooms must be an array of strings')
    }
    const readOnly: unknown = claims.readOnly
    if (readOnly !== undefined && typeof readOnly !== 'boolean') throw new Refusal('unauthorized', 'token claim readOnly must be a boolean')
    if (rooms !== undefined && !roomAllowed(rooms, room)) throw new Refusal('forbidden', `token does not allow room ${room}`)
    return {
      id: claims.sub,
      anonymous: false,
      ...(readOnly === true ? { readOnly: true } : {}),
      ...(typeof claims.exp === 'number' ? { expiresAt: claims.exp * 1000 } : {}),
      data: claims,
    }
  }
}
