/**
 * Where a room's incoming updates wait, admitted but not yet applied, until the end of the
 * current turn of the event loop; they are then applied together, in arrival order, in one
 * Yjs transaction (apply-update.ts), each still judged on its own.
 *
 * Why: every Yjs transaction computes the document's state vector twice, over every client
 * id the room has ever seen, and runs a cleanup pass. Under load that fixed cost was the
 * largest single cost of the server; a batch pays it once. The wait adds no latency that
 * matters: the batch is applied before the loop goes back to waiting for I/O
 * (`setImmediate`), long before the tick that broadcasts it.
 *
 * Anything that must see a connection's earlier updates (its requests and hello, a late
 * joiner's sync answer, server edits, a departure) applies the inbox first (Room.applyInbox).
 */
import type { Connection } from './connection.js'

/** An update that passed the checks made on arrival (size, metadata, beforeUpdate hooks). */
export interface AdmittedUpdate {
  conn: Connection
  update: Uint8Array
  /** Clients that author structs in the update, mapped to their first clock. */
  structClients: Map<number, number>
}

export class Inbox {
  private queue: AdmittedUpdate[] = []
  private scheduled = false

  constructor(private readonly applyBatch: (batch: AdmittedUpdate[]) => void) {}

  push(update: AdmittedUpdate): void {
    this.queue.push(update)
    if (!this.scheduled) {
      this.scheduled = true
      setImmediate(this.onImmediate)
    }
  }

  /** Applies everything waiting (a no-op when empty). */
  apply(): void {
    if (this.queue.length === 0) return
    const batch = this.queue
    this.queue = []
    this.applyBatch(batch)
  }

  private onImmediate = (): void => {
    this.scheduled = false
    this.apply()
  }
}
