/**
 * The PostgreSQL schema, as numbered migrations (postgres.ts applies the ones a database
 * lacks, under an advisory lock so that servers starting together do not race). Never edit
 * a released step: add the next one.
 *
 * Tables, in the schema named by the URL's `?schema=` (default `yroom`):
 *   rooms      one row per room: its lease (epoch, holder, until), the last seq, and the
 *              compacted snapshot's base seq and chunk count; a room never written has
 *              no row once its lease is given up
 *   epochs     the sequence epochs are drawn from: they only grow, across all rooms, so a
 *              room's row can be deleted without an epoch ever being handed out twice
 *   updates    the log after the snapshot: (room, seq) → Yjs update, with its CRC-32
 *   snapshots  the compacted state, in chunks of at most CHUNK_BYTES, each with its CRC-32;
 *              rooms.snapshot_encoding says its Yjs update format (1 = V1, 2 = V2; migration 2)
 *   meta       small per-room records (identity bindings, action ledger, server ids)
 */

/** A compacted state is stored in rows of at most this many bytes (no giant row, SPEC §11). */
export const CHUNK_BYTES = 1 << 20

export interface Migration {
  version: number
  sql: (schema: string) => string
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: (s) => `
      CREATE SEQUENCE ${s}.epochs;
      CREATE TABLE ${s}.rooms (
        name text PRIMARY KEY,
        epoch bigint NOT NULL DEFAULT 0,
        holder text,
        lease_until timestamptz,
        seq bigint NOT NULL DEFAULT 0,
        base bigint NOT NULL DEFAULT 0,
        snapshot_chunks integer NOT NULL DEFAULT 0
      );
      CREATE TABLE ${s}.updates (
        room text NOT NULL,
        seq bigint NOT NULL,
        crc integer NOT NULL,
        data bytea NOT NULL,
        PRIMARY KEY (room, seq)
      );
      CREATE TABLE ${s}.snapshots (
        room text NOT NULL,
        chunk integer NOT NULL,
        crc integer NOT NULL,
        data bytea NOT NULL,
        PRIMARY KEY (room, chunk)
      );
      CREATE TABLE ${s}.meta (
        room text NOT NULL,
        key text NOT NULL,
        value bytea NOT NULL,
        PRIMARY KEY (room, key)
      );`,
  },
  {
    // Snapshots compacted by the room server are in Yjs update format V2 (half the bytes of V1
    // for text); those written before stay V1.
    version: 2,
    sql: (s) => `ALTER TABLE ${s}.rooms ADD COLUMN snapshot_encoding smallint NOT NULL DEFAULT 1;`,
  },
]
