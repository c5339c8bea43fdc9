/**
 * The document size cap (SPEC §12), measured on the document, not on the stored log: a
 * room whose log grew by overwriting one value stays writable while its document is small.
 *
 * Measuring exactly means encoding the whole document (O(size)), so the size is kept as
 * an upper bound instead: the last exact measure plus every update admitted since. Only
 * when that bound would pass the cap is the document measured again, and then no more
 * often than keeps measuring under a tenth of the room's time (or once each eighth of the
 * document's size has been written), whatever a client sends.
 */
import * as Y from 'yjs'

export class DocumentSize {
  /** Exact encoded size at the last measure. */
  private measured: number
  /** Bytes admitted since the last measure (an update counts whether accepted or not). */
  private since = 0
  /** Something was deleted since the last measure: the bound may be too high. */
  private shrunk = false
  private measuredAt = -Infinity
  /** How long the last measure took (ms). */
  private measureMs = 0

  constructor(
    private readonly doc: Y.Doc,
    private readonly cap: number,
    /** A first upper bound (the stored log's bytes): measured only if ever needed. */
    initialBound: number,
  ) {
    this.measured = initialBound
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
    if (this.bound + bytes > this.cap && this.mayMeasure()) {
      beforeMeasure()
      this.measure()
    }
    if (this.bound + bytes > this.cap) return false
    this.since += bytes
    return true
  }

  /** Notes an update that adds nothing (deletions only): the next check may measure again. */
  shrinking(): void {
    this.shrunk = true
  }

  /** Records an exact size computed elsewhere (a compaction encodes the state anyway). */
  measuredAs(bytes: number): void {
    this.measured = bytes
    this.since = 0
    this.shrunk = false
    this.measuredAt = performance.now()
  }

  private mayMeasure(): boolean {
    if (this.since === 0 && !this.shrunk) return false
    return performance.now() - this.measuredAt >= 10 * this.measureMs || this.since >= this.measured / 8
  }

  private measure(): void {
    const started = performance.now()
    const bytes = Y.encodeStateAsUpdate(this.doc).byteLength
    this.measureMs = performance.now() - started
    this.measuredAs(bytes)
  }
}
