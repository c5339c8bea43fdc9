/**
 * The throwaway PostgreSQL server of the storage and cold-load scenarios (test/postgres.ts),
 * one per scenario, stopped at its end. Unlike the test suite's servers, it keeps
 * PostgreSQL's own durability defaults (fsync, synchronous_commit, full_page_writes on) and
 * shared_buffers: the figures are those of a database as an operator runs it. When the
 * server binaries are not installed (or the server does not start), the scenario skips its
 * PostgreSQL rows and says why.
 */
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { postgresBinDir, postgresInstalled, startPostgres, type PostgresServer } from '../../postgres.js'
import { log } from '../scenarios/common.js'

/** Settings over test/postgres.ts's (which turn durability off for speed): PostgreSQL's defaults. */
export const BENCH_PG_SETTINGS = { fsync: 'on', synchronous_commit: 'on', full_page_writes: 'on', shared_buffers: '128MB' } as const

export const benchPgSettingsText = (): string =>
  Object.entries(BENCH_PG_SETTINGS)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ')

export interface BenchPostgres {
  server: PostgresServer
  /** `postgres (PostgreSQL) 15.x` */
  version: string
}

/** Starts the scenario's server, or returns why the PostgreSQL rows are skipped. */
export async function startBenchPostgres(): Promise<BenchPostgres | { skipped: string }> {
  if (!postgresInstalled()) {
    const skipped = 'PostgreSQL is not installed here (initdb, pg_ctl and postgres not found; `apt-get install -y postgresql`): its rows are skipped'
    log(`  ${skipped}`)
    return { skipped }
  }
  try {
    const server = await startPostgres({ settings: { ...BENCH_PG_SETTINGS } })
    let version = 'PostgreSQL'
    try {
      version = execFileSync(join(postgresBinDir()!, 'postgres'), ['--version']).toString().trim().replace(/^postgres \(PostgreSQL\) /, 'PostgreSQL ')
    } catch {
      // the version is only for the report
    }
    log(`  ${version} on port ${server.port} (${benchPgSettingsText()})`)
    return { server, version }
  } catch (err) {
    const skipped = `the throwaway PostgreSQL server did not start: ${(err as Error).message.split('\n')[0]}`
    log(`  ${skipped}`)
    return { skipped }
  }
}
