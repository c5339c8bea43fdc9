/**
 * What every cluster-mode test file sets up the same way: one throwaway redis-server for the
 * file, a fresh PostgreSQL database per test, and cleanups run after each test in reverse
 * order. Call useClusterEnv() at the top level of a test file (it registers the hooks).
 *
 *   const env = useClusterEnv()
 *   describe.skipIf(!clusterReady)('…', () => {
 *     it('…', async () => {
 *       const url = await env.database()
 *       const s = await startServer({ storage: url, redis: env.redis.url, … })
 *       env.cleanup(() => s.close())
 *     })
 *   })
 */
import { afterAll, afterEach, beforeAll } from 'vitest'
import { createDatabase, stopSharedPostgres } from '../postgres.js'
import { startRedis, type RedisServer } from '../redis.js'

/** Off only when asked (YROOM_TEST_CLUSTER=0): a machine without redis-server or PostgreSQL fails with how to install them. */
export const clusterReady = !/^(0|false|no|off)$/i.test(process.env.YROOM_TEST_CLUSTER ?? '')

export interface ClusterEnv {
  /** The file's redis-server (started before its first test). */
  readonly redis: RedisServer
  /** Runs each of `fns` after the current test (cleanups run in reverse order). */
  cleanup(...fns: Array<() => unknown>): void
  /** A fresh database, dropped after the test; its URL. */
  database(): Promise<string>
}

export function useClusterEnv(): ClusterEnv {
  const cleanups: Array<() => unknown> = []
  let redis: RedisServer | undefined
  beforeAll(async () => {
    if (clusterReady) redis = await startRedis()
  })
  afterAll(async () => {
    await redis?.stop()
    await stopSharedPostgres()
  })
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c()
  })
  return {
    get redis(): RedisServer {
      if (!redis) throw new Error('no redis-server: cluster tests are off (YROOM_TEST_CLUSTER) or it failed to start')
      return redis
    },
    cleanup: (...fns) => void cleanups.push(...fns),
    async database() {
      const db = await createDatabase()
      cleanups.push(() => db.drop())
      return db.url
    },
  }
}
