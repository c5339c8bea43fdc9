/**
 * Where a room's incoming updates wait, admitted but not yet applied; they are then applied
 * together, in arrival order, in one Yjs transaction (apply-update.ts), each still judged
 * on its own.
 *
 * Why: every Yjs transaction computes the document's state vector twice, over every client
 * id the room has ever seen, and runs a cleanup pass. Under load that fixed cost was the
 * largest single cost of the server; a batch pays it once.
 *
 * How long: most updates wait for the tick, which applies whatever waits before it
 * broadcasts, so waiting costs no delivery latency. What waiting would delay is a rollback,
 * sent as soon as its batch is judged. So an update that might be rejected starts a timer
 * of `applyDelayMs` instead, and its batch is applied by then (Room.submit): one that
 * touches others' content (UpdateLayout.touchesOthers: it writes next to or inside another
 * client's items, into a root, or deletes another's items), or one from a connection under
 * watch (its writes were rejected lately, or it is read-only). What waits for the tick is
 * a client extending or overwriting its own content: rejected only when ownership changed
 * under it, and then its later updates are under watch.
 *
 * Anything that must see a connection's earlier updates (its requests and hello, a late
 * joiner's sync answer, server edits, a departure) applies the inbox first (Room.applyInbox).
 */
import type { Connection } from '../transport/connection.js'
import type { UpdateLayout } from '../codec/update-layout.js'

/** An update that passed the checks made on arrival (size, layout, beforeUpdate hooks). */
export interface AdmittedUpdate {
  conn: Connection
  update: Uint8Array
  layout: UpdateLayout
}

export class Inbox {
  private queue: AdmittedUpdate[] = []
  private timer: NodeJS.Timeout | NodeJS.Immediate | null = null

  constructor(
    private readonly applyBatch: (batch: AdmittedUpdate[]) => void,
    /** How long an urgent update may wait; 0: until the end of the event-loop turn. */
    private readonly delayMs: number,
    /** Makes sure a tick is coming, which applies what waits (Room.scheduleFlush). */
    private readonly awaitTick: () => void,
  ) {}

  /** Queues an update: an urgent one is applied within `delayMs`, any other by the tick. */
  push(update: AdmittedUpdate, urgent: boolean): void {
    this.queue.push(update)
    if (!urgent) this.awaitTick()
    else if (this.timer === null) this.timer = this.delayMs > 0 ? setTimeout(this.onTimer, this.delayMs) : setImmediate(this.onTimer)
  }

  /** Applies everything waiting (a no-op when empty). */
  apply(): void {
    this.cancelTimer()
    if (this.queue.length === 0) return
    const batch = this.queue
    this.queue = []
    this.applyBatch(batch)
  }

  private cancelTimer(): void {
    if (this.timer === null) return
    if (this.delayMs > 0) clearTimeout(this.timer as NodeJS.Timeout)
    else clearImmediate(this.timer as NodeJS.Immediate)
    this.timer = null
  }

  private onTimer = (): void => {
    this.timer = null
    this.apply()
  }
}
