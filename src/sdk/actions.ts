/**
 * The client side of actions (SPEC §8): `patch` shows the result at once as a local overlay
 * of pending actions over the confirmed state, sends the action to the server, and keeps it
 * pending (re-sent on every reconnect) until the server answers. `updated` delivers deeply
 * frozen snapshots of confirmed state + overlay whenever they change.
 *
 * Two rules keep that exact (issue 21):
 * - Actions go out in the order they were made: one is sent only when every earlier one is
 *   in flight, so after a drop the interrupted ones are resent before any made offline. The
 *   server deduplicates per action id anyway; the order keeps their effects in call order.
 * - The overlay holds only actions the confirmed state does not contain yet. The server
 *   writes an action's effect and its ledger mark in one transaction and broadcasts it
 *   before answering, so when the effect arrives the ledger says so, and the action leaves
 *   the overlay in the same step: a snapshot never shows an action applied twice.
 */
import * as Y from 'yjs'
import type { AnyValue, ModelPath, Response } from '../shared/protocol/extension.js'
import { pathOfType } from '../shared/paths.js'
import { ActionRefused, runAction, type ActionSet } from '../shared/actions/define.js'
import { canonical, deepFreeze, plainOf, type JsonObject, type JsonValue } from '../shared/actions/snapshot.js'
import { META_KEY, ROOM_MAP } from '../shared/layout.js'
import { entryHas, entryOf, ledgerOf } from '../shared/actions/ledger.js'
import { ACTION_METHOD } from '../shared/protocol/actions.js'

/** What the client needs from its connection. */
export interface ActionChannel {
  /** Sends an extension request; rejects when the connection drops before the answer. */
  request(method: string, params: AnyValue): Promise<Response>
  /** Calls `fn` each time the connection (re)opens; returns an unsubscribe function. */
  onConnected(fn: () => void): () => void
}

/** A model as actions see it: a Y.Map, or anything exposing one (SDK models). */
export type ActionTarget = Y.Map<unknown> | { readonly yMap: Y.Map<unknown> | undefined }

export type Snapshot = Readonly<Record<string, unknown>>

interface Pending {
  seq: number
  path: ModelPath
  map: Y.Map<unknown>
  set: ActionSet
  action: string
  args: JsonValue[]
  resolve(data: Snapshot): void
  reject(err: unknown): void
  sent: boolean
}

interface Watch {
  map: Y.Map<unknown>
  callbacks: Set<(s: Snapshot) => void>
  last: string
  unobserve(): void
}

function mapOf(target: ActionTarget): Y.Map<unknown> {
  const map = target instanceof Y.Map ? target : target.yMap
  if (!map) throw new Error('the model is not attached to a document')
  return map as Y.Map<unknown>
}

function randomId(): string {
  const bytes = new Uint8Array(9)
  globalThis.crypto.getRandomValues(bytes)
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')
}

export interface ActionClientOptions {
  sets: readonly ActionSet[]
  /** Run actions twice locally and compare (default false in the client; the server decides). */
  strict?: boolean
}

export class ActionClient {
  /** This client's action id prefix: with `seq`, the id the server deduplicates on. */
  readonly clientId = randomId()
  private seq = 0
  private pending: Pending[] = []
  private watches = new Map<Y.Map<unknown>, Watch>()
  private sets: Map<string, ActionSet>
  private unsubscribe: () => void

  constructor(
    private channel: ActionChannel,
    options: ActionClientOptions,
  ) {
    this.sets = new Map(options.sets.map((s) => [s.name, s]))
    this.unsubscribe = channel.onConnected(() => this.resendAll())
  }

  private setOf(map: Y.Map<unknown>): ActionSet {
    const meta = map.get(META_KEY)
    const name = meta instanceof Y.Map ? meta.get('actions') : undefined
    const set = typeof name === 'string' ? this.sets.get(name) : undefined
    if (!set) throw new ActionRefused('no-actions', `the model has no registered action set (${String(name)})`)
    return set
  }

  /** Calls action `name` on `model`; resolves with the server's resulting data. */
  patch(model: ActionTarget, action: string, ...args: JsonValue[]): Promise<Snapshot> {
    const map = mapOf(model)
    const set = this.setOf(map)
    if (typeof set.actions[action] !== 'function') return Promise.reject(new ActionRefused('unknown-action', `no action '${action}'`))
    return new Promise<Snapshot>((resolve, reject) => {
      const p: Pending = { seq: ++this.seq, path: pathOfType(map), map, set, action, args, resolve, reject, sent: false }
      // Sent now unless an earlier action waits for the connection (it goes first, on reconnect).
      const inOrder = this.pending.every((q) => q.sent)
      this.pending.push(p)
      this.refresh(map)
      if (inOrder) this.send(p)
    })
  }

  /** Number of actions not yet answered by the server. */
  get pendingCount(): number {
    return this.pending.length
  }

  /**
   * Calls `callback` now and on every change with a deeply frozen snapshot of the model
   * (confirmed state plus pending actions). Returns an unsubscribe function.
   */
  updated(model: ActionTarget, callback: (snapshot: Snapshot) => void): () => void {
    const map = mapOf(model)
    let w = this.watches.get(map)
    if (!w) {
      const observer = () => this.refresh(map)
      map.observeDeep(observer)
      // The ledger may confirm an action whose effect left the model as it was.
      const roomMap = map.doc?.getMap(ROOM_MAP)
      const ledgerObserver = () => {
        if (this.pending.some((p) => p.map === map)) this.refresh(map)
      }
      roomMap?.observeDeep(ledgerObserver)
      const unobserve = () => {
        map.unobserveDeep(observer)
        roomMap?.unobserveDeep(ledgerObserver)
      }
      w = { map, callbacks: new Set(), last: '', unobserve }
      this.watches.set(map, w)
    }
    w.callbacks.add(callback)
    const snap = this.snapshot(map)
    w.last = canonical(snap)
    callback(snap)
    const watch = w
    return () => {
      watch.callbacks.delete(callback)
      if (watch.callbacks.size === 0) {
        watch.unobserve()
        this.watches.delete(map)
      }
    }
  }

  /** Confirmed state with the pending actions it does not contain yet applied on top, deeply frozen. */
  snapshot(model: ActionTarget): Snapshot {
    const map = mapOf(model)
    let data: JsonObject = plainOf(map)
    const l = map.doc ? ledgerOf(map.doc) : undefined
    const applied = entryOf(l?.get(this.clientId))
    for (const p of this.pending) {
      if (p.map !== map || entryHas(applied, p.seq)) continue
      try {
        data = runAction(p.set, p.action, data, p.args, false)
      } catch {
        // Refused locally: the server will refuse it too; show the state without it.
      }
    }
    return deepFreeze(data)
  }

  private refresh(map: Y.Map<unknown>): void {
    const w = this.watches.get(map)
    if (!w) return
    const snap = this.snapshot(map)
    const text = canonical(snap)
    if (text === w.last) return
    w.last = text
    for (const cb of [...w.callbacks]) cb(snap)
  }

  private send(p: Pending): void {
    p.sent = true
    // `settled`: every id below the oldest pending one is answered and never resent.
    const settled = (this.pending[0]?.seq ?? p.seq) - 1
    const params = { client: this.clientId, seq: p.seq, path: p.path, action: p.action, args: p.args, settled }
    this.channel.request(ACTION_METHOD, params as AnyValue).then(
      (res) => this.settle(p, res),
      () => {
        // Connection dropped before the answer: stays pending, re-sent on reconnect.
        p.sent = false
      },
    )
  }

  private settle(p: Pending, res: Response): void {
    const i = this.pending.indexOf(p)
    if (i < 0) return
    this.pending.splice(i, 1)
    this.refresh(p.map)
    const result = (res.result ?? {}) as { data?: JsonObject; reason?: string; message?: string }
    if (res.ok) p.resolve(deepFreeze(result.data ?? {}))
    else p.reject(new ActionRefused(result.reason ?? 'refused', result.message ?? 'the server refused the action'))
  }

  private resendAll(): void {
    // In call order: interrupted actions before those made offline.
    for (const p of this.pending) if (!p.sent) this.send(p)
  }

  destroy(): void {
    this.unsubscribe()
    for (const w of this.watches.values()) w.unobserve()
    this.watches.clear()
  }
}
