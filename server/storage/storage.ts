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
}
