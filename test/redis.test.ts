/**
 * The throwaway redis-server (test/redis.ts) the cluster tests run on: it starts, answers,
 * loses everything on restart(), and comes back on the same port after kill() and start().
 */
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { redisInstalled, startRedis, type RedisServer } from './redis.js'

if (!redisInstalled()) console.warn('test/redis.test.ts skipped: redis-server is not installed (apt-get install -y redis-server; .ci/run does)')

describe.skipIf(!redisInstalled())('throwaway redis-server (test/redis.ts)', () => {
  let redis: RedisServer
  let client: Redis

  beforeAll(async () => {
    redis = await startRedis()
    // No retries while Redis is down: a command fails at once instead of waiting.
    client = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => 50 })
    client.on('error', () => undefined)
  })
  afterAll(async () => {
    client?.disconnect()
    await redis?.stop()
  })

  it('answers on its url', async () => {
    expect(redis.url).toBe(`redis://127.0.0.1:${redis.port}`)
    expect(await client.ping()).toBe('PONG')
    await client.set('k', 'v')
    expect(await client.get('k')).toBe('v')
  })

  it('restart() loses everything and answers again on the same port', async () => {
    await client.set('k', 'v')
    await redis.restart()
    expect(await eventually(() => client.ping())).toBe('PONG')
    expect(await client.get('k')).toBeNull()
    expect(await client.dbsize()).toBe(0)
  })

  it('kill() takes it down until start()', async () => {
    await client.set('k', 'v')
    await redis.kill()
    await expect(client.ping()).rejects.toThrow()
    await redis.start()
    expect(await eventually(() => client.ping())).toBe('PONG')
    expect(await client.get('k')).toBeNull()
  })

  it('stop() ends it for good', async () => {
    const other = await startRedis()
    const c = new Redis(other.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
    c.on('error', () => undefined)
    expect(await c.ping()).toBe('PONG')
    await other.stop()
    await other.stop() // idempotent
    await expect(c.ping()).rejects.toThrow()
    c.disconnect()
    await expect(other.start()).rejects.toThrow(/stopped/)
  })
})

/** The value of `f` once it stops throwing (the client reconnecting), within 5 s. */
async function eventually<T>(f: () => Promise<T>): Promise<T> {
  const deadline = performance.now() + 5000
  for (;;) {
    try {
      return await f()
    } catch (err) {
      if (performance.now() > deadline) throw err
      await new Promise((r) => setTimeout(r, 20))
    }
  }
}
