/**
 * Storage interface (SPEC §6). A stored document is an append-only log of Yjs updates,
 * each with a sequence number. Yjs updates commute, so any number of writers can append
 * without locks; compaction replaces a prefix of the log by one merged update, which is
 * safe while writers keep appending after that prefix.
 */
export interface StoredDocument {
  /** Updates in log order; applying all of them (in any order) gives the document. */
  updates: Uint8Array[]
  /** Sequence number of the last update, 0 for an empty document. */
  seq: number
}

export interface Storage {
  /** Reads a room's log. Unknown rooms load as empty. */
  load(room: string): Promise<StoredDocument>
  /** Appends updates in one atomic batch; resolves with the sequence number of the last. */
  append(room: string, updates: Uint8Array[]): Promise<number>
  /**
   * Replaces every entry with seq <= `through` by `merged` (which must contain all of them).
   * Entries appended after `through` are untouched.
   */
  compact(room: string, merged: Uint8Array, through: number): Promise<void>
  /** Number of log entries of a room (for inspection and tests; the room counts its own). */
  size(room: string): Promise<number>
  /** Names of all stored rooms. */
  list(): Promise<string[]>
  /** Deletes a room's log and metadata. */
  delete(room: string): Promise<void>
  /** Small per-room records kept beside the log (identity bindings, action ids, ...). */
  getMeta(room: string, key: string): Promise<Uint8Array | undefined>
  setMeta(room: string, key: string, value: Uint8Array): Promise<void>
  close(): Promise<void>
  /**
   * Shared backends (SPEC §11): takes the room's write lease, so that one server at a time
   * writes it; every later append and compaction is fenced by the lease's epoch. Rejects
   * with RoomLeased while another server holds it (after waiting about one lease for it to
   * expire, unless `wait` is false). Embedded backends have no leases.
   */
  lease?(room: string, options?: { wait?: boolean }): Promise<void>
  /** The rooms among `rooms` whose lease nobody holds now (cluster failover checks, one query). */
  unleased?(rooms: string[]): Promise<string[]>
  /** The epoch of the room's lease while this server holds it, else undefined. */
  epoch?(room: string): number | undefined
  /** Gives the room's lease up (the room unloaded). */
  release?(room: string): Promise<void>
  /** `listener` is called with a room whose lease was lost: that room must stop serving. */
  onLeaseLost?(listener: (room: string) => void): void
  /** The leases this server holds now (GET /cluster, /metrics). */
  leases?(): Leases
}

export interface Leases {
  /** This server's name in the lease table (its node id and a suffix fresh per start). */
  holder: string
  rooms: Array<{ name: string; epoch: number }>
  /** Successful renewals of all held leases (one statement each) since the start. */
  renewals: number
}

/** A write under a lease this server no longer holds: refused by the database, nothing written. */
export class LeaseLost extends Error {
  readonly code = 'YROOM_LEASE_LOST'
  constructor(readonly room: string) {
    super(`this server no longer holds the lease of room ${JSON.stringify(room)}: the write was refused`)
    this.name = 'LeaseLost'
  }
}

/** Another server holds the room's lease (or held it until recently and may still write). */
export class RoomLeased extends Error {
  readonly code = 'YROOM_ROOM_LEASED'
  constructor(
    readonly room: string,
    readonly holder: string,
  ) {
    super(`room ${JSON.stringify(room)} is served by another server (${holder}); try again shortly`)
    this.name = 'RoomLeased'
  }
}
