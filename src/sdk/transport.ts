/**
 * The SDK's connection to a yroom server: the standard y-websocket protocol (sync,
 * awareness, auth) plus the yroom extension (§7), with frame batching.
 *
 * Why not the stock y-websocket WebsocketProvider underneath: it sends one message per
 * Yjs transaction from its own 'update' listener, and frame batching (§9: all local changes
 * of one datastoreFrameDuration as ONE merged update) would mean detaching its private
 * `_updateHandler`. The hello must also precede sync step 1, and requests need their own
 * bookkeeping. The protocol work itself is y-protocols' (sync, awareness, auth) and lib0's;
 * this file only owns the socket's life cycle: connect, hello, batching, reconnect with
 * backoff (exponential, full jitter), tokens (fresh on every connect and refresh request),
 * a no-traffic watchdog and request/response matching.
 *
 * Offline: local updates are not queued while the socket is down. The document holds them,
 * and on reconnect the server's sync step 1 is answered with a step 2 that carries every
 * local change the server lacks, as one message.
 */
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import * as syncProtocol from 'y-protocols/sync'
import * as awarenessProtocol from 'y-protocols/awareness'
import { applyRestored } from './restored.js'
import * as authProtocol from 'y-protocols/auth'
import {
  MESSAGE_AUTH,
  MESSAGE_AWARENESS,
  MESSAGE_QUERY_AWARENESS,
  MESSAGE_SYNC,
  MESSAGE_YROOM,
} from '../shared/protocol/message-types.js'
import {
  decodeExtension,
  encodeHello,
  encodeRequest,
  encodeToken,
  ExtKind,
  PROTOCOL_VERSION,
  type AnyValue,
  type ErrorNotice,
  type RejectedChange,
  type Response,
  type Welcome,
} from '../shared/protocol/extension.js'
import { CloseCode } from '../shared/protocol/close-codes.js'
import { Emitter } from './emitter.js'

/** The subset of the WHATWG WebSocket that the transport uses (browsers, `ws`, undici). */
export interface WebSocketLike {
  binaryType: string
  readonly readyState: number
  onopen: ((ev: unknown) => void) | null
  onmessage: ((ev: { data: unknown }) => void) | null
  onclose: ((ev: { code: number; reason: string }) => void) | null
  onerror: ((ev: unknown) => void) | null
  send(data: Uint8Array): void
  close(code?: number, reason?: string): void
}
export type WebSocketConstructor = new (url: string) => WebSocketLike

const OPEN = 1

export type ConnectionStatus = 'connecting' | 'connected' | 'disconnected' | 'closed'

export interface StatusEvent {
  status: ConnectionStatus
  /** WebSocket close code, when the status follows a close. */
  code?: number
  /** Close reason as sent by the server (or a local explanation). */
  reason?: string
  /** False once the SDK gave up (a refusal a retry cannot fix: 1009, 44xx) or `disconnect()` was called. */
  willReconnect?: boolean
}

/**
 * Close codes after which reconnecting cannot help (the server's decision, §7). TOKEN_EXPIRED
 * is not one: the reconnect asks the token function for a new token.
 */
const TERMINAL_CLOSE_CODES: ReadonlySet<number> = new Set([
  CloseCode.MESSAGE_TOO_BIG,
  CloseCode.INVALID_ROOM,
  CloseCode.UNAUTHORIZED,
  CloseCode.FORBIDDEN,
  CloseCode.KICKED,
  CloseCode.ROOM_DELETED,
  CloseCode.DOCUMENT_TOO_LARGE,
  CloseCode.UNPROCESSABLE,
])

export class RequestInterruptedError extends Error {
  constructor(method: string) {
    super(`connection lost before the server answered '${method}'; its outcome is unknown`)
    this.name = 'RequestInterruptedError'
  }
}

export type TransportEvents = {
  status: (e: StatusEvent) => void
  synced: () => void
  welcome: (w: Welcome) => void
  rejected: (changes: RejectedChange[]) => void
  error: (e: ErrorNotice) => void
  'permission-denied': (reason: string) => void
  /** One merged document update went out (counts frames; `bytes` is the update size). */
  frame: (bytes: number) => void
}

/**
 * A token, or a function that returns one: called before every (re)connect and when the server
 * asks for a new token (its token expired), so it should return a fresh one (e.g. from your
 * auth endpoint; cache it yourself if you like).
 */
export type TokenSource = string | (() => string | Promise<string>)

/**
 * Reconnect delay after `attempt` failed attempts (0 based): "full jitter", a uniformly random
 * delay between 0 and min(maxMs, minMs * 2^attempt), so clients dropped together (a server
 * restart) do not come back together.
 */
export function backoffDelay(attempt: number, minMs: number, maxMs: number, random: () => number = Math.random): number {
  const cap = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 30))
  return Math.floor(random() * cap)
}

export interface TransportOptions {
  /** Server base URL, e.g. ws://localhost:1234. */
  url: string
  room: string
  token?: TokenSource
  params?: Record<string, string>
  doc: Y.Doc
  awareness: awarenessProtocol.Awareness
  /** Frame length in ms; 0 sends at the end of the current task. */
  frameMs: number
  WebSocket?: WebSocketConstructor
  /** Reconnect backoff: a random delay up to min * 2^attempts, capped at max (backoffDelay). */
  minBackoffMs?: number
  maxBackoffMs?: number
  /** Reconnect when nothing arrived for this long (the server echoes awareness renewals). */
  watchdogMs?: number
}

interface PendingRequest {
  method: string
  resolve: (r: Response) => void
  reject: (e: Error) => void
}

async function defaultWebSocket(): Promise<WebSocketConstructor> {
  const g = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket
  if (g) return g
  // Node < 22 has no global WebSocket: use the `ws` package (a dependency of yroom).
  const mod = (await import('ws')) as unknown as { default: WebSocketConstructor }
  return mod.default
}

export class Transport {
  readonly events = new Emitter<TransportEvents>()
  status: ConnectionStatus = 'disconnected'
  synced = false
  welcome: Welcome | null = null
  /** Document updates sent (each one merged frame) since creation. */
  framesSent = 0
  private ws: WebSocketLike | null = null
  private WS: WebSocketConstructor | null
  private shouldConnect = false
  private attempts = 0
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null
  private frameTimer: ReturnType<typeof setTimeout> | null = null
  private microtaskQueued = false
  private watchdog: ReturnType<typeof setInterval> | null = null
  private lastMessageAt = 0
  private pending: Uint8Array[] = []
  /**
   * Set once we answered the server's sync step 1 on this connection. Frames wait for it:
   * before, the server may lack offline changes they depend on, and the step 2 answer
   * carries them anyway.
   */
  private answeredStep1 = false
  private nextRequestId = 1
  private requests = new Map<number, PendingRequest>()
  private queuedRequests: Array<{ id: number; bytes: Uint8Array }> = []
  private destroyed = false
  private readonly minBackoff: number
  private readonly maxBackoff: number
  private readonly watchdogMs: number

  constructor(private readonly opts: TransportOptions) {
    this.WS = opts.WebSocket ?? null
    this.minBackoff = opts.minBackoffMs ?? 100
    this.maxBackoff = opts.maxBackoffMs ?? 2500
    this.watchdogMs = opts.watchdogMs ?? 30_000
    opts.doc.on('update', this.onDocUpdate)
    opts.awareness.on('update', this.onAwarenessUpdate)
  }

  /** The URL a connection opens, with `token` (the current one) as `?token=`. */
  urlWith(token: string | undefined): string {
    const params = new URLSearchParams(this.opts.params ?? {})
    if (token !== undefined) params.set('token', token)
    const q = params.toString()
    return `${this.opts.url.replace(/\/+$/, '')}/${encodeURIComponent(this.opts.room)}${q ? '?' + q : ''}`
  }

  get connected(): boolean {
    return this.status === 'connected'
  }

  connect(): void {
    if (this.destroyed) throw new Error('transport destroyed')
    this.shouldConnect = true
    if (this.ws === null && this.reconnectTimer === null) void this.open()
  }

  /** Sends the pending frame, closes the socket and stops reconnecting. Local edits keep working; `connect()` resumes. */
  disconnect(): void {
    this.flush() // what was written before disconnect() still goes out
    this.shouldConnect = false
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer)
    this.reconnectTimer = null
    if (this.ws) this.closeSocket(this.ws, { code: 1000, reason: 'disconnect() called' }, false)
    else this.setStatus({ status: 'disconnected', reason: 'disconnect() called', willReconnect: false })
  }

  destroy(): void {
    this.disconnect()
    this.destroyed = true
    this.opts.doc.off('update', this.onDocUpdate)
    this.opts.awareness.off('update', this.onAwarenessUpdate)
    this.events.clear()
  }

  // ---- sending ------------------------------------------------------------------------

  /** Sends the pending frame now. */
  flush(): void {
    if (this.frameTimer) clearTimeout(this.frameTimer)
    this.frameTimer = null
    if (this.pending.length === 0) return
    const updates = this.pending
    this.pending = []
    const ws = this.ws
    if (!ws || ws.readyState !== OPEN || !this.answeredStep1) return // the next sync step 2 carries them
    const merged = updates.length === 1 ? updates[0] : Y.mergeUpdates(updates)
    const enc = encoding.createEncoder()
    encoding.writeVarUint(enc, MESSAGE_SYNC)
    syncProtocol.writeUpdate(enc, merged)
    ws.send(encoding.toUint8Array(enc))
    this.framesSent++
    this.events.emit('frame', merged.byteLength)
  }

  private onDocUpdate = (update: Uint8Array, origin: unknown): void => {
    if (origin === this) return
    if (!this.answeredStep1) return // the sync step 2 answer will carry it
    this.pending.push(update)
    this.scheduleFrame()
  }

  private scheduleFrame(): void {
    if (this.opts.frameMs <= 0) {
      if (this.microtaskQueued) return
      this.microtaskQueued = true
      queueMicrotask(() => {
        this.microtaskQueued = false
        this.flush()
      })
      return
    }
    if (this.frameTimer === null) this.frameTimer = setTimeout(() => this.flush(), this.opts.frameMs)
  }

  private onAwarenessUpdate = (
    { added, updated, removed }: { added: number[]; updated: number[]; removed: number[] },
    origin: unknown,
  ): void => {
    if (origin === this) return
    const changed = added.concat(updated, removed)
    this.send(awarenessMessage(this.opts.awareness, changed))
  }

  private send(bytes: Uint8Array): boolean {
    const ws = this.ws
    if (!ws || ws.readyState !== OPEN || this.status !== 'connected') return false
    ws.send(bytes)
    return true
  }

  /**
   * Sends an extension request and resolves with the server's response. Pending local
   * changes are flushed first, so the server has seen everything the request refers to.
   * Requests made offline wait for the connection to sync; a request in flight when the
   * connection drops rejects with RequestInterruptedError.
   */
  request(method: string, params: AnyValue): Promise<Response> {
    const id = this.nextRequestId++
    const bytes = encodeRequest({ id, method, params })
    return new Promise<Response>((resolve, reject) => {
      this.requests.set(id, { method, resolve, reject })
      if (this.connected && this.synced) {
        this.flush()
        this.send(bytes)
      } else {
        this.queuedRequests.push({ id, bytes })
      }
    })
  }

  // ---- socket life cycle --------------------------------------------------------------

  private opening = false

  private async open(): Promise<void> {
    if (!this.shouldConnect || this.ws !== null || this.opening) return
    this.opening = true
    let token: string | undefined
    try {
      this.WS ??= await defaultWebSocket()
      if (typeof this.opts.token === 'function') {
        this.setStatus({ status: 'connecting' })
        token = await this.opts.token()
        if (typeof token !== 'string') throw new TypeError(`the token function returned ${typeof token}, not a string`)
      } else {
        token = this.opts.token
      }
    } catch (err) {
      this.opening = false
      if (!this.shouldConnect || this.destroyed || this.ws !== null) return
      // Like a failed connection: reported, and retried after the backoff.
      this.setStatus({ status: 'disconnected', reason: `token function failed: ${(err as Error)?.message ?? String(err)}`, willReconnect: true })
      this.scheduleReconnect()
      return
    }
    this.opening = false
    if (!this.shouldConnect || this.ws !== null || this.destroyed) return
    const ws = new this.WS(this.urlWith(token))
    ws.binaryType = 'arraybuffer'
    this.ws = ws
    this.synced = false
    if (this.status !== 'connecting') this.setStatus({ status: 'connecting' }) // a token function may have said so
    ws.onopen = () => {
      if (this.ws !== ws) return
      this.lastMessageAt = Date.now()
      // The hello goes first: the server binds our client id before it sees our updates.
      ws.send(encodeHello({ version: PROTOCOL_VERSION, clientID: this.opts.doc.clientID }))
      const enc = encoding.createEncoder()
      encoding.writeVarUint(enc, MESSAGE_SYNC)
      syncProtocol.writeSyncStep1(enc, this.opts.doc)
      ws.send(encoding.toUint8Array(enc))
      if (this.opts.awareness.getLocalState() !== null) {
        ws.send(awarenessMessage(this.opts.awareness, [this.opts.doc.clientID]))
      }
      this.startWatchdog()
      this.setStatus({ status: 'connected' })
    }
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return
      this.lastMessageAt = Date.now()
      this.onMessage(ws, toBytes(ev.data))
    }
    ws.onerror = () => {
      // A close event follows; it carries the code and reason.
    }
    ws.onclose = (ev) => {
      if (this.ws !== ws) return
      this.closeSocket(ws, { code: ev.code, reason: ev.reason }, true)
    }
  }

  private startWatchdog(): void {
    if (this.watchdog) clearInterval(this.watchdog)
    this.watchdog = setInterval(
      () => {
        if (this.ws && this.connected && Date.now() - this.lastMessageAt > this.watchdogMs) {
          this.closeSocket(this.ws, { code: 4000, reason: 'no message from the server within the watchdog time' }, true)
        }
      },
      Math.max(50, this.watchdogMs / 10),
    )
    ;(this.watchdog as { unref?: () => void }).unref?.()
  }

  private closeSocket(ws: WebSocketLike, { code, reason }: { code: number; reason: string }, fromServer: boolean): void {
    if (this.ws !== ws) return
    this.ws = null
    ws.onopen = null
    ws.onmessage = null
    ws.onclose = null
    ws.onerror = () => {}
    try {
      ws.close()
    } catch {
      // closing a socket that never opened can throw in some implementations
    }
    if (this.watchdog) clearInterval(this.watchdog)
    this.watchdog = null
    if (this.frameTimer) clearTimeout(this.frameTimer)
    this.frameTimer = null
    this.pending = [] // the next sync step 2 carries them
    this.answeredStep1 = false
    this.synced = false
    this.welcome = null
    for (const [id, r] of this.requests) {
      if (this.queuedRequests.some((q) => q.id === id)) continue
      this.requests.delete(id)
      r.reject(new RequestInterruptedError(r.method))
    }
    // Remote awareness states are stale once we are offline (as y-websocket does).
    const others = [...this.opts.awareness.getStates().keys()].filter((c) => c !== this.opts.doc.clientID)
    if (others.length > 0) awarenessProtocol.removeAwarenessStates(this.opts.awareness, others, this)
    if (fromServer && TERMINAL_CLOSE_CODES.has(code)) this.shouldConnect = false
    const willReconnect = this.shouldConnect
    this.setStatus({ status: willReconnect ? 'disconnected' : fromServer ? 'closed' : 'disconnected', code, reason, willReconnect })
    if (willReconnect) this.scheduleReconnect()
  }

  private scheduleReconnect(): void {
    const delay = backoffDelay(this.attempts, this.minBackoff, this.maxBackoff)
    this.attempts++
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null
      void this.open()
    }, delay)
  }

  private setStatus(e: StatusEvent): void {
    this.status = e.status
    this.events.emit('status', e)
  }

  // ---- receiving ----------------------------------------------------------------------

  private onMessage(ws: WebSocketLike, data: Uint8Array): void {
    const decoder = decoding.createDecoder(data)
    const type = decoding.readVarUint(decoder)
    switch (type) {
      case MESSAGE_SYNC: {
        const enc = encoding.createEncoder()
        encoding.writeVarUint(enc, MESSAGE_SYNC)
        const syncType = syncProtocol.readSyncMessage(decoder, enc, this.opts.doc, this)
        if (encoding.length(enc) > 1) {
          // Our step 2 carries all pending local changes: the frame buffer is redundant now.
          this.pending = []
          ws.send(encoding.toUint8Array(enc))
          if (syncType === syncProtocol.messageYjsSyncStep1) this.answeredStep1 = true
        }
        if (syncType === syncProtocol.messageYjsSyncStep2 && !this.synced) {
          this.synced = true
          this.attempts = 0
          this.sendQueuedRequests(ws)
          this.events.emit('synced')
        }
        break
      }
      case MESSAGE_AWARENESS:
        awarenessProtocol.applyAwarenessUpdate(this.opts.awareness, decoding.readVarUint8Array(decoder), this)
        break
      case MESSAGE_QUERY_AWARENESS:
        ws.send(awarenessMessage(this.opts.awareness, [...this.opts.awareness.getStates().keys()]))
        break
      case MESSAGE_AUTH:
        authProtocol.readAuthMessage(decoder, this.opts.doc, (_doc, reason) => this.events.emit('permission-denied', reason))
        break
      case MESSAGE_YROOM:
        this.onExtension(ws, decoder)
        break
      default:
        // Unknown message types are ignored: newer servers may speak more than we do.
        break
    }
  }

  /**
   * Requests made offline go out once synced: by then our sync step 2 (the answer to the
   * server's step 1, which it sends on join) has carried the offline changes they refer to.
   */
  private sendQueuedRequests(ws: WebSocketLike): void {
    const queued = this.queuedRequests
    this.queuedRequests = []
    if (queued.length > 0) this.flush()
    for (const r of queued) if (this.requests.has(r.id)) ws.send(r.bytes)
  }

  /**
   * The server asks for a new token (ours expired): from the token function, sent on the same
   * connection. A fixed token cannot be renewed; the server closes with 4419 after the grace
   * period and the reconnect is refused (4401) unless the token was replaced meanwhile.
   */
  private refreshToken(ws: WebSocketLike): void {
    const source = this.opts.token
    if (typeof source !== 'function') return
    Promise.resolve()
      .then(() => source())
      .then(
        (token) => {
          if (this.ws !== ws || ws.readyState !== OPEN) return
          if (typeof token !== 'string') throw new TypeError(`the token function returned ${typeof token}, not a string`)
          ws.send(encodeToken({ token }))
        },
      )
      .catch((err: unknown) => {
        this.events.emit('error', { code: 'token-refresh-failed', message: `token function failed: ${(err as Error)?.message ?? String(err)}` })
      })
  }

  private onExtension(ws: WebSocketLike, decoder: decoding.Decoder): void {
    const msg = decodeExtension(decoder)
    switch (msg.kind) {
      case ExtKind.REFRESH_TOKEN:
        this.refreshToken(ws)
        break
      case ExtKind.WELCOME:
        this.welcome = msg.body
        this.events.emit('welcome', msg.body)
        break
      case ExtKind.REJECTED:
        this.events.emit('rejected', msg.body.changes)
        break
      case ExtKind.ERROR:
        this.events.emit('error', msg.body)
        break
      case ExtKind.RESTORED:
        // After the update that holds the copies (the server sends it so): undo stacks and
        // cursors follow rolled-back deletions to the re-created content.
        applyRestored(this.opts.doc, msg.body.ranges)
        break
      case ExtKind.RESPONSE: {
        const r = this.requests.get(msg.body.id)
        if (r) {
          this.requests.delete(msg.body.id)
          r.resolve(msg.body)
        }
        break
      }
      default:
        break
    }
  }
}

function awarenessMessage(awareness: awarenessProtocol.Awareness, clients: number[]): Uint8Array {
  const enc = encoding.createEncoder()
  encoding.writeVarUint(enc, MESSAGE_AWARENESS)
  encoding.writeVarUint8Array(enc, awarenessProtocol.encodeAwarenessUpdate(awareness, clients))
  return encoding.toUint8Array(enc)
}

function toBytes(data: unknown): Uint8Array {
  if (data instanceof ArrayBuffer) return new Uint8Array(data)
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
  throw new TypeError('yroom: text frames are not part of the protocol')
}
