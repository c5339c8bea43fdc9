/**
 * Storage interface (SPEC §6). A stored document is an append-only log of Yjs updates,
 * each with a sequence number. Yjs updates commute, so any number of writers can append
 * without locks; compaction replaces a prefix of the log by one merged update, which is
 * safe while writers keep appending after that prefix.
 */
export interface StoredDocument {
  /**
   * Updates in log order; applying all of them (in any order) gives the document. Each is in
   * Yjs update format V1 (`Y.applyUpdate`) unless `v2` says otherwise for it.
   */
  updates: Uint8Array[]
  /** Sequence number of the last update, 0 for an empty document. */
  seq: number
  /**
   * Per entry of `updates`: true when it is in Yjs update format V2 (`Y.applyUpdateV2`), as a
   * snapshot compacted with `compact(…, 'v2')` is. Absent when every entry is V1.
   */
  v2?: boolean[]
}

/** The Yjs update encodings a compacted snapshot can be stored in. */
export type UpdateEncoding = 'v1' | 'v2'

export interface Storage {
  /** Reads a room's log. Unknown rooms load as empty. */
  load(room: string): Promise<StoredDocument>
  /** Appends updates in one atomic batch; resolves with the sequence number of the last. */
  append(room: string, updates: Uint8Array[]): Promise<number>
  /**
   * Replaces every entry with seq <= `through` by `merged` (which must contain all of them).
   * Entries appended after `through` are untouched. `encoding` is merged's Yjs update format
   * (default 'v1'); it is stored with it and a load reports it (StoredDocument.v2). The room
   * server compacts in V2: about half the bytes of V1 for text, and as fast to apply.
   */
  compact(room: string, merged: Uint8Array, through: number, encoding?: UpdateEncoding): Promise<void>
  /**
   * The encoding the server compacts into: 'v2' for stores that record it (the built-in
   * ones). Absent: 'v1', for a store written before encodings existed (it ignores the
   * argument and loads every entry as V1).
   */
  readonly snapshotEncoding?: UpdateEncoding
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
  /** Who holds the room's lease now (a live lease), or null (the inspector routes to it). */
  holderOf?(room: string): Promise<string | null>
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
