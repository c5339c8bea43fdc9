/** The throwaway PostgreSQL server of test/postgres.ts: starts, serves, stops, leaves nothing. */
import { existsSync } from 'node:fs'
import { afterAll, describe, expect, it } from 'vitest'
import pg from 'pg'
import { createDatabase, sharedPostgres, startPostgres, stopSharedPostgres } from './postgres.js'

afterAll(stopSharedPostgres)

async function query<T extends pg.QueryResultRow>(config: string | pg.ClientConfig, sql: string): Promise<T[]> {
  const c = new pg.Client(typeof config === 'string' ? { connectionString: config } : config)
  await c.connect()
  try {
    return (await c.query<T>(sql)).rows
  } finally {
    await c.end()
  }
}

describe('throwaway PostgreSQL server', () => {
  it('starts in a temp dir, answers on loopback and on its unix socket, and stop() removes the dir', async () => {
    const started = Date.now()
    const server = await startPostgres()
    try {
      expect(Date.now() - started).toBeLessThan(15_000)
      expect(server.url).toBe(`postgres://postgres@127.0.0.1:${server.port}/postgres`)
      expect(existsSync(server.dir)).toBe(true)
      expect(await query(server.url, 'select 1 as one')).toEqual([{ one: 1 }])
      expect(await query({ host: server.socketDir, port: server.port, user: 'postgres', database: 'postgres' }, 'select 2 as two')).toEqual([{ two: 2 }])
      expect(await query<{ fsync: string }>(server.url, 'show fsync')).toEqual([{ fsync: 'off' }])

      const db = await server.createDatabase()
      expect(db.url).toBe(`postgres://postgres@127.0.0.1:${server.port}/${db.name}`)
      await query(db.url, 'create table t (x int); insert into t values (7)')
      expect(await query(db.url, 'select x from t')).toEqual([{ x: 7 }])
      const other = await server.createDatabase()
      expect(await query(other.url, "select count(*)::int as n from pg_tables where tablename = 't'")).toEqual([{ n: 0 }])
      await other.drop()
      const names = await query<{ datname: string }>(server.url, 'select datname from pg_database')
      expect(names.map((r) => r.datname)).toContain(db.name)
      expect(names.map((r) => r.datname)).not.toContain(other.name)
    } finally {
      await server.stop()
    }
    expect(existsSync(server.dir)).toBe(false)
    await expect(query(server.url, 'select 1')).rejects.toThrow()
    await server.stop() // idempotent
  })

  it('the shared server starts once per process; createDatabase gives fresh databases on it', async () => {
    const [a, b] = await Promise.all([sharedPostgres(), sharedPostgres()])
    expect(a).toBe(b)
    const [d1, d2] = await Promise.all([createDatabase(), createDatabase()])
    expect(d1.name).not.toBe(d2.name)
    expect(d1.url.startsWith(`postgres://postgres@127.0.0.1:${a.port}/`)).toBe(true)
    expect(await query(d2.url, 'select current_database() as db')).toEqual([{ db: d2.name }])
    await stopSharedPostgres()
    expect(existsSync(a.dir)).toBe(false)
    const c = await sharedPostgres() // a new one after a stop
    expect(c).not.toBe(a)
    expect(await query(c.url, 'select 1 as one')).toEqual([{ one: 1 }])
  })
})
