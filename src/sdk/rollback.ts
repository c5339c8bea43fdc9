/**
 * Telling a server rollback from an ordinary remote change.
 *
 * The server answers a rejected change with a rejection notice (§7: path and reason) and
 * then with the compensating update. It sends the notice first: it goes out while the
 * update is still being judged, the compensation only at the room's next fan-out. So the
 * SDK keeps the rejected paths of recent notices, and a remote change at one of those paths
 * (or above / below it) is reported as 'rollback'; the entry is used up by the transaction
 * that matched it. Entries nothing matched expire after `ttlMs` (a compensation that
 * changed nothing visible, e.g. when a later change already overwrote the value).
 */
import type { ModelPath, RejectedChange } from '../shared/protocol/extension.js'

interface Entry {
  path: ModelPath
  at: number
  used: boolean
}

function related(a: ModelPath, b: ModelPath): boolean {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false
  return true
}

export class RejectionTracker {
  private entries: Entry[] = []

  constructor(private readonly ttlMs = 10_000) {}

  add(changes: RejectedChange[]): void {
    const now = Date.now()
    this.expire(now)
    for (const c of changes) this.entries.push({ path: c.path, at: now, used: false })
  }

  /** True when a remote change at `path` undoes a rejected change of ours; marks the entry used. */
  match(path: ModelPath): boolean {
    let hit = false
    for (const e of this.entries) {
      if (related(e.path, path)) {
        e.used = true
        hit = true
      }
    }
    return hit
  }

  /** Called after each remote transaction: drops the entries it used, and expired ones. */
  endTransaction(): void {
    if (this.entries.length === 0) return
    this.entries = this.entries.filter((e) => !e.used)
    this.expire(Date.now())
  }

  get size(): number {
    return this.entries.length
  }

  clear(): void {
    this.entries = []
  }

  private expire(now: number): void {
    if (this.entries.length > 0) this.entries = this.entries.filter((e) => now - e.at < this.ttlMs)
  }
}
