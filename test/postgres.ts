/**
 * A throwaway PostgreSQL server for tests: a fresh cluster in a temp dir, listen on 127.0.0.1 (a free
 * port) and on a unix socket inside that dir, trust auth, no fsync; stopped with
 * `pg_ctl stop -m immediate` and the dir removed. No test needs a database set up by hand.
 *
 *   const pg = await startPostgres()        // a server of its own
 *   pg.url                                  // postgres://postgres@127.0.0.1:PORT/postgres
 *   const db = await pg.createDatabase()    // a fresh, empty database on it
 *   db.url                                  // postgres://postgres@127.0.0.1:PORT/yroom_test_…
 *   await pg.stop()
 *
 *   const db = await createDatabase()       // a fresh database on the worker's shared server
 *
 * initdb refuses to run as root: as root the server runs as the `postgres` user (the temp dir
 * is chowned to it). A watchdog process stops the server and removes the dir if the test
 * process dies without stopping it (a vitest worker killed at the end of a run). The cluster
 * is a copy of one initdb made once per machine ($TMPDIR/yroom-pg-template-*; YROOM_PG_TEMPLATE=0
 * runs initdb every time), so a server starts in well under a second. YROOM_PG_BIN names the
 * directory of the binaries when they are neither on PATH nor in /usr/lib/postgresql/*\/bin.
 */
import { execFile, spawn, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { chown, mkdtemp, rename, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import pg from 'pg'
import { freePort } from './free-port.js'

const TOOLS = ['initdb', 'pg_ctl', 'postgres'] as const

/** Thrown when the PostgreSQL server binaries are not installed. */
export class PostgresNotInstalled extends Error {
  constructor() {
    super(
      'PostgreSQL server binaries (initdb, pg_ctl, postgres) were not found on PATH or in /usr/lib/postgresql/*/bin: ' +
        'install them with `apt-get install -y postgresql` (.ci/run does)',
    )
    this.name = 'PostgresNotInstalled'
  }
}

let binDirCache: string | null | undefined

/**
 * The directory holding initdb, pg_ctl and postgres: $YROOM_PG_BIN, else the first PATH entry
 * that has all three, else the newest /usr/lib/postgresql/VERSION/bin. Undefined if none.
 */
export function postgresBinDir(): string | undefined {
  if (binDirCache !== undefined) return binDirCache ?? undefined
  const hasAll = (dir: string) => TOOLS.every((t) => existsSync(join(dir, t)))
  const candidates: string[] = []
  if (process.env.YROOM_PG_BIN) candidates.push(process.env.YROOM_PG_BIN)
  for (const dir of (process.env.PATH ?? '').split(delimiter)) if (dir) candidates.push(dir)
  try {
    const versions = readdirSync('/usr/lib/postgresql')
      .filter((v) => /^\d+(\.\d+)?$/.test(v))
      .sort((a, b) => Number(b) - Number(a))
    for (const v of versions) candidates.push(join('/usr/lib/postgresql', v, 'bin'))
  } catch {
    // no Debian PostgreSQL packages
  }
  binDirCache = candidates.find(hasAll) ?? null
  return binDirCache ?? undefined
}

/** True when a throwaway server can be started here. */
export function postgresInstalled(): boolean {
  return postgresBinDir() !== undefined
}

export interface PostgresDatabase {
  /** postgres://postgres@127.0.0.1:PORT/NAME */
  url: string
  name: string
  /** Drops the database (closing its connections). Stopping the server drops it too. */
  drop(): Promise<void>
}

export interface PostgresServer {
  /** postgres://postgres@127.0.0.1:PORT/postgres (the maintenance database). */
  url: string
  host: string
  port: number
  /** The temp dir: data in `data/`, the unix socket (`.s.PGSQL.PORT`) in the dir itself. */
  dir: string
  /** The unix socket directory (a `host` for pg, or `psql -h`). */
  socketDir: string
  /** Creates a fresh, empty database; `name` defaults to a unique `yroom_test_…`. */
  createDatabase(name?: string): Promise<PostgresDatabase>
  /** Stops the server (`pg_ctl stop -m immediate`) and removes its dir. Idempotent. */
  stop(): Promise<void>
}

export interface StartPostgresOptions {
  /** Extra `-c name=value` server settings. */
  settings?: Record<string, string | number>
  /** Milliseconds to wait for the server to accept connections (default 30 s). */
  timeoutMs?: number
}

const asRoot = () => typeof process.getuid === 'function' && process.getuid() === 0

/** Runs a PostgreSQL tool, as the `postgres` user when this process is root. */
function run(tool: string, args: string[], cwd: string, timeoutMs = 60_000): Promise<string> {
  const bin = join(postgresBinDir()!, tool)
  const [file, argv] = asRoot() ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args]
  return new Promise((resolve, reject) => {
    execFile(file, argv, { cwd, timeout: timeoutMs, env: { ...process.env, LC_ALL: 'C', LANG: 'C' } }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${tool} ${args.join(' ')} failed: ${err.message}\n${stdout}${stderr}`))
      else resolve(stdout + stderr)
    })
  })
}

const INITDB_ARGS = ['--auth=trust', '--username=postgres', '--encoding=UTF8', '--locale=C', '--no-sync']

/**
 * Creates the cluster in `dataDir`: a copy of a cluster initdb made once per machine (initdb
 * takes seconds, a copy a fraction of that), or initdb itself when YROOM_PG_TEMPLATE=0. The
 * template sits in the temp dir, named after the binaries' version, and is made atomically
 * (initdb into a private dir, then rename), so concurrent workers never see a partial one.
 */
async function initCluster(dataDir: string, cwd: string): Promise<void> {
  if (process.env.YROOM_PG_TEMPLATE === '0') {
    await run('initdb', ['-D', dataDir, ...INITDB_ARGS], cwd)
    return
  }
  const version = (await run('pg_ctl', ['--version'], cwd)).trim()
  const key = createHash('sha256').update(`${postgresBinDir()}\n${version}\n${INITDB_ARGS.join(' ')}`).digest('hex').slice(0, 12)
  const template = join(tmpdir(), `yroom-pg-template-${process.getuid?.() ?? 'u'}-${key}`)
  const complete = () => existsSync(join(template, 'PG_VERSION')) && existsSync(join(template, 'global', 'pg_control'))
  if (!complete()) {
    const building = await mkdtemp(`${template}.building-`)
    try {
      if (asRoot()) await chown(building, ...postgresIds())
      await run('initdb', ['-D', join(building, 'data'), ...INITDB_ARGS], building)
      await rename(join(building, 'data'), template).catch((err: NodeJS.ErrnoException) => {
        // Another worker made it first: use theirs.
        if (!complete()) throw err
      })
    } finally {
      await rm(building, { recursive: true, force: true })
    }
  }
  // cp -a keeps the owner (postgres) and the 0700 mode the server insists on.
  await new Promise<void>((resolve, reject) =>
    execFile('cp', ['-a', template, dataDir], (err, _out, stderr) => (err ? reject(new Error(`copying the template cluster failed: ${stderr}`)) : resolve())),
  )
}

let ids: [number, number] | undefined
/** uid and gid of the `postgres` user (the server runs as it when this process is root). */
function postgresIds(): [number, number] {
  if (ids) return ids
  const uid = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' })
  const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' })
  if (uid.status !== 0 || gid.status !== 0) {
    throw new Error('running as root, but there is no `postgres` user to run initdb as (apt-get install -y postgresql creates it)')
  }
  ids = [Number(uid.stdout.trim()), Number(gid.stdout.trim())]
  return ids
}

let dbCounter = 0
const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`

/** Starts a server of its own in a new temp dir. */
export async function startPostgres(options: StartPostgresOptions = {}): Promise<PostgresServer> {
  if (!postgresInstalled()) throw new PostgresNotInstalled()
  const dir = await mkdtemp(join(tmpdir(), 'yroom-pg-'))
  const dataDir = join(dir, 'data')
  const logFile = join(dir, 'postgres.log')
  let watchdog: ReturnType<typeof spawn> | undefined
  try {
    if (asRoot()) await chown(dir, ...postgresIds())
    await initCluster(dataDir, dir)

    // A port can be taken between freePort() and the bind: try a few.
    let port = 0
    let lastError: unknown
    for (let attempt = 0; attempt < 3 && !port; attempt++) {
      const p = await freePort()
      const settings: Record<string, string | number> = {
        listen_addresses: '127.0.0.1',
        port: p,
        unix_socket_directories: dir,
        fsync: 'off',
        synchronous_commit: 'off',
        full_page_writes: 'off',
        max_connections: 300,
        shared_buffers: '32MB',
        max_wal_size: '1GB',
        checkpoint_timeout: '30min',
        autovacuum: 'off',
        logging_collector: 'off',
        ...options.settings,
      }
      // Settings go into the config file rather than through pg_ctl -o (a shell command line).
      const conf = Object.entries(settings)
        .map(([k, v]) => `${k} = ${typeof v === 'number' ? v : `'${String(v).replace(/'/g, "''")}'`}`)
        .join('\n')
      await writeFile(join(dataDir, 'postgresql.auto.conf'), `# test settings (test/postgres.ts)\n${conf}\n`)
      try {
        const timeoutS = Math.ceil((options.timeoutMs ?? 30_000) / 1000)
        await run('pg_ctl', ['start', '-D', dataDir, '-l', logFile, '-w', '-t', String(timeoutS), '-s'], dir, (timeoutS + 10) * 1000)
        port = p
      } catch (err) {
        lastError = err
        const log = existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''
        if (!/could not bind|address already in use/i.test(log)) break
      }
    }
    if (!port) {
      const log = existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''
      throw new Error(`PostgreSQL did not start: ${(lastError as Error)?.message ?? lastError}\n${log}`)
    }

    const pmPid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0])
    watchdog = startWatchdog(process.pid, pmPid, dir)
    const host = '127.0.0.1'
    const url = `postgres://postgres@${host}:${port}/postgres`
    let stopped: Promise<void> | undefined
    const onExit = () => stopSync(pmPid, dir)
    process.once('exit', onExit)

    return {
      url,
      host,
      port,
      dir,
      socketDir: dir,
      async createDatabase(name = `yroom_test_${process.pid}_${++dbCounter}_${Math.random().toString(36).slice(2, 8)}`) {
        const admin = new pg.Client({ connectionString: url })
        await admin.connect()
        try {
          await admin.query(`CREATE DATABASE ${quoteIdent(name)}`)
        } finally {
          await admin.end()
        }
        return {
          name,
          url: `postgres://postgres@${host}:${port}/${encodeURIComponent(name)}`,
          async drop() {
            if (stopped) return
            const c = new pg.Client({ connectionString: url })
            await c.connect()
            try {
              await c.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`)
            } finally {
              await c.end()
            }
          },
        }
      },
      stop() {
        stopped ??= (async () => {
          process.off('exit', onExit)
          try {
            await run('pg_ctl', ['stop', '-D', dataDir, '-m', 'immediate', '-w', '-t', '30', '-s'], dir)
          } catch (err) {
            // Already gone (or pg_ctl failed): make sure the postmaster is.
            if (alive(pmPid)) {
              try {
                process.kill(pmPid, 'SIGKILL')
              } catch {
                // exited meanwhile
              }
            }
            if (alive(pmPid)) throw err
          } finally {
            watchdog?.kill('SIGKILL')
          }
          await rm(dir, { recursive: true, force: true })
        })()
        return stopped
      },
    }
  } catch (err) {
    watchdog?.kill('SIGKILL')
    // initdb or the start failed: nothing of ours may stay behind.
    if (existsSync(join(dataDir, 'postmaster.pid'))) {
      await run('pg_ctl', ['stop', '-D', dataDir, '-m', 'immediate', '-w', '-s'], dir).catch(() => undefined)
    }
    await rm(dir, { recursive: true, force: true })
    throw err
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** At process exit (synchronous): immediate shutdown, then remove the dir. */
function stopSync(pmPid: number, dir: string): void {
  try {
    process.kill(pmPid, 'SIGQUIT') // what pg_ctl stop -m immediate sends
  } catch {
    // already gone
  }
  const deadline = Date.now() + 5000
  while (alive(pmPid) && Date.now() < deadline) spawnSync('sleep', ['0.05'])
  if (alive(pmPid)) {
    try {
      process.kill(pmPid, 'SIGKILL')
    } catch {
      // exited meanwhile
    }
  }
  rmSync(dir, { recursive: true, force: true })
}

/**
 * A detached process that waits for `parentPid` to die (a worker killed without running its
 * exit handlers), then shuts the postmaster down and removes the dir. It ends by itself once
 * the postmaster is gone.
 */
function startWatchdog(parentPid: number, pmPid: number, dir: string): ReturnType<typeof spawn> {
  const script = `
    const [parent, pm, dir] = [Number(process.argv[1]), Number(process.argv[2]), process.argv[3]]
    const alive = (pid) => { try { process.kill(pid, 0); return true } catch (e) { return e.code === 'EPERM' } }
    const timer = setInterval(() => {
      if (!alive(pm)) { clearInterval(timer); return }
      if (alive(parent)) return
      clearInterval(timer)
      try { process.kill(pm, 'SIGQUIT') } catch {}
      const deadline = Date.now() + 5000
      const wait = setInterval(() => {
        if (alive(pm) && Date.now() < deadline) return
        clearInterval(wait)
        if (alive(pm)) { try { process.kill(pm, 'SIGKILL') } catch {} }
        require('fs').rmSync(dir, { recursive: true, force: true })
      }, 50)
    }, 250)
  `
  const child = spawn(process.execPath, ['-e', script, String(parentPid), String(pmPid), dir], { detached: true, stdio: 'ignore' })
  child.unref()
  return child
}

let shared: Promise<PostgresServer> | undefined

/**
 * The server shared by this process (one per vitest worker, i.e. per test file): started on
 * first use, stopped at process exit (or by `stopSharedPostgres`).
 */
export function sharedPostgres(): Promise<PostgresServer> {
  shared ??= startPostgres().catch((err: unknown) => {
    shared = undefined
    throw err
  })
  return shared
}

/** A fresh, empty database on the shared server. */
export async function createDatabase(name?: string): Promise<PostgresDatabase> {
  return (await sharedPostgres()).createDatabase(name)
}

/** Stops the shared server if it was started. */
export async function stopSharedPostgres(): Promise<void> {
  const s = shared
  shared = undefined
  if (s) await (await s.catch(() => undefined))?.stop()
}
