/**
 * PostgreSQL storage (`--data postgres://USER@HOST:PORT/DB[?schema=NAME]`), SPEC §6, §11.
 *
 * The same log as LevelDB: an append-only list of Yjs updates per room, written before
 * anything is broadcast, compacted into a snapshot (postgres-schema.ts for the tables).
 *
 * Fencing. A shared database can be reached by several servers, by design (a cluster) or
 * by mistake (two servers given one URL). One server at a time writes a room: it takes the
 * room's lease before loading it, which increments the room's epoch. Every write names the
 * epoch in the same statement (an append is one `UPDATE rooms … WHERE epoch = $e` joined to
 * the insert; a compaction a transaction that starts with that update), so a server whose
 * lease was taken over writes nothing: the database refuses it and the room stops
 * (LeaseLost). Leases are renewed together every lease/3; a server that cannot renew for
 * the lease minus a margin (on its monotonic clock) gives its rooms up before anyone else
 * may take them. Advisory locks would not do: they do not fence a write that was already
 * under way when the lock passed on.
 *
 * Integrity (SPEC §12): every row carries the CRC-32 of its bytes, and the log after the
 * snapshot must hold every seq up to the room's; a load that finds otherwise reports which
 * entries are missing or corrupt (StorageDamaged), as LevelDB does.
 */
import { hostname } from 'node:os'
import { randomUUID } from 'node:crypto'
import pg from 'pg'
import { crc32 } from './crc32.js'
import { StorageDamaged, type Damage } from './integrity.js'
import { CHUNK_BYTES, MIGRATIONS } from './postgres-schema.js'
import { LeaseLost, RoomLeased, type Leases, type Storage, type StoredDocument, type UpdateEncoding } from './storage.js'

export interface PostgresStorageOptions {
  /** How long a lease lasts without renewal, in ms (default 5000). */
  leaseMs?: number
  /** This server's name in the lease table (default host:pid); a restart takes no lease over. */
  nodeId?: string
}

/** A row's CRC-32 as PostgreSQL's signed integer. */
const crcOf = (bytes: Uint8Array): number => crc32(bytes) | 0

const asBuffer = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength)

export class PostgresStorage implements Storage {
  /** Compacted snapshots are stored in Yjs V2 (Storage.snapshotEncoding). */
  readonly snapshotEncoding = 'v2'
  private readonly pool: pg.Pool
  /** The quoted schema name, for SQL text. */
  private readonly s: string
  private readonly leaseMs: number
  /** This process's lease holder name: the node id plus a fresh suffix per start. */
  readonly holder: string
  /** Rooms whose lease this process holds, with its epoch. */
  private readonly held = new Map<string, number>()
  private readonly lostListeners: Array<(room: string) => void> = []
  private renewTimer: NodeJS.Timeout | null = null
  /** performance.now() of the last successful renewal. */
  private renewedAt = 0
  private renewals = 0

  constructor(url: string, options: PostgresStorageOptions = {}) {
    const parsed = new URL(url)
    const schema = parsed.searchParams.get('schema') ?? 'yroom'
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new Error(`invalid schema name ${JSON.stringify(schema)} (lowercase letters, digits, _)`)
    parsed.searchParams.delete('schema')
    this.s = `"${schema}"`
    this.pool = new pg.Pool({ connectionString: parsed.toString(), max: 8 })
    // An idle client's error (the server restarted) must not end the process.
    this.pool.on('error', () => {})
    this.leaseMs = options.leaseMs ?? 5000
    this.holder = `${options.nodeId ?? `${hostname()}:${process.pid}`}/${randomUUID().slice(0, 8)}`
  }

  /** Connects and brings the schema up to date. */
  async open(): Promise<void> {
    const client = await this.pool.connect()
    try {
      await client.query('SELECT pg_advisory_lock(hashtext($1))', [`yroom-migrate:${this.s}`])
      try {
        await client.query(`CREATE SCHEMA IF NOT EXISTS ${this.s}`)
        await client.query(`CREATE TABLE IF NOT EXISTS ${this.s}.migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`)
        const { rows } = await client.query<{ version: number }>(`SELECT version FROM ${this.s}.migrations`)
        const done = new Set(rows.map((r) => r.version))
        for (const m of MIGRATIONS) {
          if (done.has(m.version)) continue
          await client.query('BEGIN')
          try {
            await client.query(m.sql(this.s))
            await client.query(`INSERT INTO ${this.s}.migrations (version) VALUES ($1)`, [m.version])
            await client.query('COMMIT')
          } catch (err) {
            await client.query('ROLLBACK')
            throw err
          }
        }
      } finally {
        await client.query('SELECT pg_advisory_unlock(hashtext($1))', [`yroom-migrate:${this.s}`])
      }
    } finally {
      client.release()
    }
    this.renewedAt = performance.now()
    this.renewTimer = setInterval(() => void this.renew(), Math.max(50, Math.floor(this.leaseMs / 3)))
    this.renewTimer.unref()
  }

  // ---- leases ----

  async lease(room: string, options: { wait?: boolean } = {}): Promise<void> {
    // A lease held elsewhere may expire: wait for it, a little longer than one lease.
    const deadline = options.wait === false ? 0 : performance.now() + this.leaseMs + 1000
    for (;;) {
      const { rows } = await this.pool.query<{ epoch: string }>(
        `INSERT INTO ${this.s}.rooms AS r (name, epoch, holder, lease_until)
         VALUES ($1, nextval('${this.s}.epochs'), $2, now() + $3 * interval '1 millisecond')
         ON CONFLICT (name) DO UPDATE SET epoch = EXCLUDED.epoch, holder = EXCLUDED.holder, lease_until = EXCLUDED.lease_until
         WHERE r.holder IS NULL OR r.lease_until < now() OR r.holder = EXCLUDED.holder
         RETURNING epoch`,
        [room, this.holder, this.leaseMs],
      )
      if (rows.length === 1) {
        this.held.set(room, Number(rows[0].epoch))
        return
      }
      if (performance.now() > deadline) {
        const cur = await this.pool.query<{ holder: string | null }>(`SELECT holder FROM ${this.s}.rooms WHERE name = $1`, [room])
        throw new RoomLeased(room, cur.rows[0]?.holder ?? 'unknown')
      }
      await new Promise((r) => setTimeout(r, 200))
    }
  }

  async release(room: string): Promise<void> {
    const epoch = this.held.get(room)
    if (epoch === undefined) return
    this.held.delete(room)
    // A room nobody wrote leaves no row (clients may open any name); else the lease is freed.
    const gone = await this.pool.query(
      `DELETE FROM ${this.s}.rooms WHERE name = $1 AND epoch = $2 AND seq = 0 AND snapshot_chunks = 0
         AND NOT EXISTS (SELECT 1 FROM ${this.s}.meta WHERE room = $1)`,
      [room, epoch],
    )
    if (gone.rowCount === 0) await this.pool.query(`UPDATE ${this.s}.rooms SET holder = NULL, lease_until = NULL WHERE name = $1 AND epoch = $2`, [room, epoch])
  }

  leases(): Leases {
    return { holder: this.holder, rooms: [...this.held].map(([name, epoch]) => ({ name, epoch })), renewals: this.renewals }
  }

  onLeaseLost(listener: (room: string) => void): void {
    this.lostListeners.push(listener)
  }

  async unleased(rooms: string[]): Promise<string[]> {
    if (rooms.length === 0) return []
    const { rows } = await this.pool.query<{ name: string }>(
      `SELECT n.name FROM unnest($1::text[]) AS n(name) LEFT JOIN ${this.s}.rooms r ON r.name = n.name
       WHERE r.name IS NULL OR r.holder IS NULL OR r.lease_until < now()`,
      [rooms],
    )
    return rows.map((r) => r.name)
  }

  async holderOf(room: string): Promise<string | null> {
    const { rows } = await this.pool.query<{ holder: string }>(`SELECT holder FROM ${this.s}.rooms WHERE name = $1 AND holder IS NOT NULL AND lease_until >= now()`, [room])
    return rows[0]?.holder ?? null
  }

  epoch(room: string): number | undefined {
    return this.held.get(room)
  }

  /** The epoch this process writes `room` under; LeaseLost when it holds no lease. */
  epochOf(room: string): number {
    const epoch = this.held.get(room)
    if (epoch === undefined) throw new LeaseLost(room)
    return epoch
  }

  /** Renews every held lease in one statement; rooms it could not renew are lost. */
  private async renew(): Promise<void> {
    if (this.held.size === 0) {
      this.renewedAt = performance.now()
      return
    }
    const names = [...this.held.keys()]
    const epochs = names.map((n) => this.held.get(n)!)
    try {
      const { rows } = await this.pool.query<{ name: string }>({
        name: `yroom-renew-${this.s}`,
        text: `UPDATE ${this.s}.rooms AS r SET lease_until = now() + $3 * interval '1 millisecond'
         FROM unnest($1::text[], $2::bigint[]) AS h(name, epoch)
         WHERE r.name = h.name AND r.epoch = h.epoch
         RETURNING r.name`,
        values: [names, epochs, this.leaseMs],
      })
      this.renewedAt = performance.now()
      this.renewals++
      const kept = new Set(rows.map((r) => r.name))
      // A room leased again meanwhile (a new epoch) was not part of this renewal.
      names.forEach((n, i) => {
        if (!kept.has(n) && this.held.get(n) === epochs[i]) this.lose(n)
      })
    } catch {
      // Unreachable database: give every room up before its lease can pass to another server.
      if (performance.now() - this.renewedAt > this.leaseMs * 0.8) for (const n of names) this.lose(n)
    }
  }

  private lose(room: string): void {
    if (!this.held.delete(room)) return
    for (const l of this.lostListeners) l(room)
  }

  // ---- the log ----

  async load(room: string): Promise<StoredDocument> {
    // One consistent view: a compaction by the lease holder may run meanwhile.
    const read = await this.transaction(async (client) => {
      const head = await client.query<{ seq: string; base: string; snapshot_chunks: number; snapshot_encoding: number }>(
        `SELECT seq, base, snapshot_chunks, snapshot_encoding FROM ${this.s}.rooms WHERE name = $1`,
        [room],
      )
      if (head.rows.length === 0) return null
      const snap = await client.query<{ chunk: number; crc: number; data: Buffer }>(`SELECT chunk, crc, data FROM ${this.s}.snapshots WHERE room = $1 ORDER BY chunk`, [room])
      const log = await client.query<{ seq: string; crc: number; data: Buffer }>(`SELECT seq, crc, data FROM ${this.s}.updates WHERE room = $1 ORDER BY seq`, [room])
      return { head: head.rows[0], snap: snap.rows, log: log.rows }
    }, 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY')
    if (read === null) return { updates: [], seq: 0 }
    const seq = Number(read.head.seq)
    const base = Number(read.head.base)
    const chunks = read.head.snapshot_chunks
    const damage: Damage[] = []
    const updates: Uint8Array[] = []
    if (chunks > 0) {
      const parts: Buffer[] = []
      let ok = read.snap.length === chunks
      for (let i = 0; i < read.snap.length && ok; i++) {
        const r = read.snap[i]
        if (r.chunk !== i || crcOf(r.data) !== r.crc) ok = false
        else parts.push(r.data)
      }
      if (ok) updates.push(parts.length === 1 ? parts[0] : Buffer.concat(parts))
      else damage.push({ kind: 'corrupt', seq: base, detail: `snapshot through entry ${base}: ${read.snap.length} of ${chunks} chunks, or a chunk's checksum differs` })
    }
    let expected = base + 1
    for (const r of read.log) {
      const s = Number(r.seq)
      if (s <= base) {
        damage.push({ kind: 'stray', seq: s, base })
        continue
      }
      if (s > expected) damage.push({ kind: 'missing', from: expected, to: s - 1 })
      expected = s + 1
      if (crcOf(r.data) !== r.crc) damage.push({ kind: 'corrupt', seq: s, detail: 'checksum differs' })
      else updates.push(r.data)
    }
    if (expected <= seq) damage.push({ kind: 'missing', from: expected, to: seq })
    if (damage.length > 0) throw new StorageDamaged(room, damage)
    if (chunks > 0 && read.head.snapshot_encoding === 2) return { updates, seq, v2: updates.map((_, i) => i === 0) }
    return { updates, seq }
  }

  async append(room: string, updates: Uint8Array[]): Promise<number> {
    if (updates.length === 0) return this.seqOf(room)
    const epoch = this.epochOf(room)
    // One statement: the seq range is allocated by the fenced update, the rows follow it.
    // A named (prepared) statement: parsed and planned once per pooled connection.
    const { rows } = await this.pool.query<{ seq: string }>({
      name: `yroom-append-${this.s}`,
      text: `WITH r AS (UPDATE ${this.s}.rooms SET seq = seq + $3 WHERE name = $1 AND epoch = $2 RETURNING seq)
       INSERT INTO ${this.s}.updates (room, seq, crc, data)
       SELECT $1, r.seq - $3 + u.ord, u.crc, u.data FROM r, unnest($4::bytea[], $5::integer[]) WITH ORDINALITY AS u(data, crc, ord)
       RETURNING seq`,
      values: [room, epoch, updates.length, updates.map(asBuffer), updates.map(crcOf)],
    })
    if (rows.length !== updates.length) throw this.lost(room)
    let last = 0
    for (const r of rows) last = Math.max(last, Number(r.seq))
    return last
  }

  private async seqOf(room: string): Promise<number> {
    const { rows } = await this.pool.query<{ seq: string }>(`SELECT seq FROM ${this.s}.rooms WHERE name = $1`, [room])
    return rows.length === 0 ? 0 : Number(rows[0].seq)
  }

  async compact(room: string, merged: Uint8Array, through: number, encoding: UpdateEncoding = 'v1'): Promise<void> {
    const epoch = this.epochOf(room)
    const chunks: Buffer[] = []
    for (let at = 0; at < merged.byteLength || chunks.length === 0; at += CHUNK_BYTES) chunks.push(asBuffer(merged.subarray(at, at + CHUNK_BYTES)))
    await this.fenced(room, epoch, async (client) => {
      await client.query(`UPDATE ${this.s}.rooms SET base = $3, snapshot_chunks = $4, snapshot_encoding = $5 WHERE name = $1 AND epoch = $2`, [
        room,
        epoch,
        through,
        chunks.length,
        encoding === 'v2' ? 2 : 1,
      ])
      await client.query(`DELETE FROM ${this.s}.snapshots WHERE room = $1`, [room])
      await client.query(
        `INSERT INTO ${this.s}.snapshots (room, chunk, crc, data)
         SELECT $1, u.ord - 1, u.crc, u.data FROM unnest($2::bytea[], $3::integer[]) WITH ORDINALITY AS u(data, crc, ord)`,
        [room, chunks, chunks.map(crcOf)],
      )
      await client.query(`DELETE FROM ${this.s}.updates WHERE room = $1 AND seq <= $2`, [room, through])
    })
  }

  /**
   * Runs `fn` in a transaction that first locks the room's row under `epoch`; a stale epoch
   * writes nothing (LeaseLost).
   */
  private fenced(room: string, epoch: number, fn: (client: pg.PoolClient) => Promise<void>): Promise<void> {
    return this.transaction(async (client) => {
      const { rows } = await client.query(`SELECT 1 FROM ${this.s}.rooms WHERE name = $1 AND epoch = $2 FOR UPDATE`, [room, epoch])
      if (rows.length === 0) throw this.lost(room)
      await fn(client)
    })
  }

  /** Runs `fn` in one transaction on a pooled connection: committed, or rolled back if it throws. */
  private async transaction<T>(fn: (client: pg.PoolClient) => Promise<T>, begin = 'BEGIN'): Promise<T> {
    const client = await this.pool.connect()
    try {
      await client.query(begin)
      const result = await fn(client)
      await client.query('COMMIT')
      return result
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {})
      throw err
    } finally {
      client.release()
    }
  }

  /** The lease of `room` is gone: forget it, tell the listeners, and return the error to throw. */
  private lost(room: string): LeaseLost {
    this.lose(room)
    return new LeaseLost(room)
  }

  async size(room: string): Promise<number> {
    const { rows } = await this.pool.query<{ n: string }>(
      `SELECT (SELECT count(*) FROM ${this.s}.updates WHERE room = $1)
            + coalesce((SELECT CASE WHEN snapshot_chunks > 0 THEN 1 ELSE 0 END FROM ${this.s}.rooms WHERE name = $1), 0) AS n`,
      [room],
    )
    return Number(rows[0].n)
  }

  async list(): Promise<string[]> {
    const { rows } = await this.pool.query<{ name: string }>(`SELECT name FROM ${this.s}.rooms WHERE seq > 0 ORDER BY name`)
    return rows.map((r) => r.name)
  }

  async delete(room: string): Promise<void> {
    await this.transaction(async (client) => {
      for (const t of ['updates', 'snapshots', 'meta']) await client.query(`DELETE FROM ${this.s}.${t} WHERE room = $1`, [room])
      await client.query(`DELETE FROM ${this.s}.rooms WHERE name = $1`, [room])
    })
    this.held.delete(room)
  }

  async getMeta(room: string, key: string): Promise<Uint8Array | undefined> {
    const { rows } = await this.pool.query<{ value: Buffer }>(`SELECT value FROM ${this.s}.meta WHERE room = $1 AND key = $2`, [room, key])
    return rows[0]?.value
  }

  async setMeta(room: string, key: string, value: Uint8Array): Promise<void> {
    const epoch = this.epochOf(room)
    // Fenced like the log: nothing is written under a lease that passed on.
    const { rowCount } = await this.pool.query(
      `INSERT INTO ${this.s}.meta (room, key, value)
       SELECT $1, $2, $4 WHERE EXISTS (SELECT 1 FROM ${this.s}.rooms WHERE name = $1 AND epoch = $3)
       ON CONFLICT (room, key) DO UPDATE SET value = EXCLUDED.value`,
      [room, key, epoch, asBuffer(value)],
    )
    if (rowCount === 0) throw this.lost(room)
  }

  private closed = false

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    if (this.renewTimer) clearInterval(this.renewTimer)
    this.renewTimer = null
    await Promise.all([...this.held.keys()].map((room) => this.release(room).catch(() => {})))
    await this.pool.end()
  }
}
