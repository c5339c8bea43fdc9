/**
 * The document size cap (SPEC §12), measured on the document, not on the stored log: a
 * room whose log grew by overwriting one value stays writable while its document is small.
 *
 * Measuring exactly means encoding the whole document (O(size)), so the size is kept as
 * an upper bound instead: the last exact measure plus every update admitted since. Only
 * when that bound would pass the cap is the document measured again, and only once enough
 * was written or deleted since the last measure (an eighth of the document), or enough
 * time passed (ten times what the last measure took): measuring stays a small constant
 * per byte a client sends, whatever it sends.
 */
import * as Y from 'yjs'

export class DocumentSize {
  /** Exact encoded size at the last measure. */
  private measured: number
  /** Bytes admitted since the last measure (an update counts whether accepted or not). */
  private since = 0
  /** Content bytes deleted since the last measure, roughly (contentBytes): the bound may be that much too high. */
  private deleted = 0
  private measuredAt = -Infinity
  /** How long the last measure took (ms). */
  private measureMs = 0

  /** No upper bound known yet: the first admitted update measures. */
  private unknown: boolean

  constructor(
    private readonly doc: Y.Doc,
    private readonly cap: number,
    /**
     * A first upper bound, measured only if ever needed: the stored log's bytes when it is
     * all in Yjs's V1 encoding, whose state is never larger than its updates together; null
     * when not (a V2 snapshot is smaller than the V1 state this cap counts).
     */
    initialBound: number | null,
  ) {
    this.measured = initialBound ?? 0
    this.unknown = initialBound === null
  }

  /** The current upper bound of the document's encoded size. */
  get bound(): number {
    return this.measured + this.since
  }

  /**
   * Whether an update of `bytes` may be admitted; counts it when it may. `beforeMeasure`
   * runs before an exact measure (the room applies the updates still waiting).
   */
  admit(bytes: number, beforeMeasure: () => void): boolean {
    if (this.unknown) {
      // Once per load of a room stored in V2, on its first write.
      beforeMeasure()
      this.measure()
    }
    if (this.bound + bytes > this.cap) {
      beforeMeasure()
      if (this.mayMeasure()) this.measure()
    }
    if (this.bound + bytes > this.cap) return false
    this.since += bytes
    return true
  }

  /** Notes content deleted (inside the applying transaction, before Yjs collects it). */
  noteDeleted(tr: Y.Transaction, deletes: Y.Transaction['deleteSet']): void {
    if (deletes.clients.size === 0) return
    Y.iterateDeletedStructs(tr, deletes, (s) => {
      if (s instanceof Y.Item) this.deleted += contentBytes(s.content)
    })
  }

  /** Records an exact size computed elsewhere (a compaction encodes the state anyway). */
  measuredAs(bytes: number): void {
    this.unknown = false
    this.measured = bytes
    this.since = 0
    this.deleted = 0
    this.measuredAt = performance.now()
  }

  private mayMeasure(): boolean {
    const changed = this.since + this.deleted
    if (changed === 0) return false
    return changed >= this.measured / 8 || performance.now() - this.measuredAt >= 10 * this.measureMs
  }

  private measure(): void {
    const started = performance.now()
    const bytes = Y.encodeStateAsUpdate(this.doc).byteLength
    this.measureMs = performance.now() - started
    this.measuredAs(bytes)
  }
}

/** Roughly the bytes a piece of content takes in the document's encoding (no encoding done). */
function contentBytes(c: Y.Item['content']): number {
  if (c instanceof Y.ContentString) return c.str.length
  if (c instanceof Y.ContentBinary) return c.content.byteLength
  if (c instanceof Y.ContentAny) {
    let n = 0
    for (const v of c.arr) n += typeof v === 'string' ? v.length : v instanceof Uint8Array ? v.byteLength : 8
    return n
  }
  return c.getLength()
}
