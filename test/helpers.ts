/**
 * Test helpers: a real server on an ephemeral loopback port, stock y-websocket providers,
 * and a raw protocol client for crafting messages. Waits are event-driven with a deadline.
 */
import * as Y from 'yjs'
import { applyStored } from '../server/room/room.js'
import type { StoredDocument } from '../server/storage/storage.js'
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import * as syncProtocol from 'y-protocols/sync'
import * as awarenessProtocol from 'y-protocols/awareness'
import { WebsocketProvider } from 'y-websocket'
import WebSocket from 'ws'
import { createServer, type ServerOptions, type YroomServer } from '../server/index.js'
import { MESSAGE_AWARENESS, MESSAGE_SYNC, MESSAGE_YROOM } from '../src/shared/protocol/message-types.js'
import { decodeExtension, encodeHello, PROTOCOL_VERSION, type ExtMessage } from '../src/shared/protocol/extension.js'

export interface TestServer {
  server: YroomServer
  url: string
  port: number
  close(): Promise<void>
}

export async function startServer(options: ServerOptions = {}): Promise<TestServer> {
  const server = await createServer({ host: '127.0.0.1', port: 0, storage: ':memory:', logger: 'silent', processMetrics: false, ...options })
  const port = await server.listen()
  return { server, port, url: `ws://127.0.0.1:${port}`, close: () => server.close() }
}

/** Deterministic PRNG (mulberry32), so a randomized test's failure replays from its seed. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Resolves when `check()` is truthy; re-checks on each event from `sources`, and every 10 ms. */
export function until(check: () => unknown, { timeout = 5000, message = 'condition' } = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    if (check()) return resolve()
    const started = Date.now()
    const t = setInterval(() => {
      let ok = false
      try {
        ok = !!check()
      } catch {
        ok = false
      }
      if (ok) {
        clearInterval(t)
        resolve()
      } else if (Date.now() - started > timeout) {
        clearInterval(t)
        reject(new Error(`timed out waiting for ${message}`))
      }
    }, 5)
  })
}

export interface ProviderClient {
  doc: Y.Doc
  provider: WebsocketProvider
  destroy(): void
}

/** A stock y-websocket client, resolved once synced. */
export async function connectProvider(
  url: string,
  room: string,
  { doc = new Y.Doc(), params = {} as Record<string, string>, connect = true } = {},
): Promise<ProviderClient> {
  const provider = new WebsocketProvider(url, room, doc, {
    WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket,
    params,
    connect,
    disableBc: true,
  })
  if (connect) await new Promise<void>((resolve) => provider.once('sync', () => resolve()))
  return {
    doc,
    provider,
    destroy() {
      provider.destroy()
      doc.destroy()
    },
  }
}

/**
 * A raw protocol client: its own Y.Doc, no provider logic. Tests use it to count frames,
 * send crafted or malformed bytes, and read extension messages.
 */
export class RawClient {
  readonly doc: Y.Doc
  readonly ws: WebSocket
  readonly frames: Uint8Array[] = []
  readonly ext: ExtMessage[] = []
  closeCode: number | null = null
  closeReason = ''
  private opened: Promise<void>
  readonly closed: Promise<void>
  synced = false

  constructor(url: string, room: string, { doc = new Y.Doc(), query = '' } = {}) {
    this.doc = doc
    this.ws = new WebSocket(`${url}/${room}${query}`)
    this.ws.binaryType = 'nodebuffer'
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve())
      this.ws.once('error', reject)
    })
    this.closed = new Promise((resolve) => {
      this.ws.once('close', (code, reason) => {
        this.closeCode = code
        this.closeReason = reason.toString()
        resolve()
      })
    })
    this.ws.on('message', (data: Buffer) => this.onMessage(new Uint8Array(data)))
    // Local edits go to the server as updates, like a provider would send them.
    this.doc.on('update', (update: Uint8Array, origin: unknown) => {
      if (origin !== this) this.sendUpdate(update)
    })
  }

  private onMessage(data: Uint8Array): void {
    this.frames.push(data)
    const decoder = decoding.createDecoder(data)
    const type = decoding.readVarUint(decoder)
    if (type === MESSAGE_SYNC) {
      const enc = encoding.createEncoder()
      encoding.writeVarUint(enc, MESSAGE_SYNC)
      const t = syncProtocol.readSyncMessage(decoder, enc, this.doc, this)
      if (t === syncProtocol.messageYjsSyncStep2) this.synced = true
      if (encoding.length(enc) > 1) this.send(encoding.toUint8Array(enc))
    } else if (type === MESSAGE_YROOM) {
      this.ext.push(decodeExtension(decoder))
    }
  }

  async open(): Promise<this> {
    await this.opened
    return this
  }

  /** Opens, sends sync step 1 and waits for the server's step 2. */
  async sync(): Promise<this> {
    await this.opened
    const enc = encoding.createEncoder()
    encoding.writeVarUint(enc, MESSAGE_SYNC)
    syncProtocol.writeSyncStep1(enc, this.doc)
    this.send(encoding.toUint8Array(enc))
    await until(() => this.synced, { message: 'raw client sync' })
    return this
  }

  hello(clientID = this.doc.clientID): void {
    this.send(encodeHello({ version: PROTOCOL_VERSION, clientID }))
  }

  send(bytes: Uint8Array): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(bytes)
  }

  sendUpdate(update: Uint8Array): void {
    const enc = encoding.createEncoder()
    encoding.writeVarUint(enc, MESSAGE_SYNC)
    syncProtocol.writeUpdate(enc, update)
    this.send(encoding.toUint8Array(enc))
  }

  sendAwareness(awareness: awarenessProtocol.Awareness, ids: number[]): void {
    const enc = encoding.createEncoder()
    encoding.writeVarUint(enc, MESSAGE_AWARENESS)
    encoding.writeVarUint8Array(enc, awarenessProtocol.encodeAwarenessUpdate(awareness, ids))
    this.send(encoding.toUint8Array(enc))
  }

  /** Frames of a given top-level message type received so far. */
  framesOfType(type: number): Uint8Array[] {
    return this.frames.filter((f) => decoding.readVarUint(decoding.createDecoder(f)) === type)
  }

  close(): Promise<void> {
    this.ws.close()
    return this.closed
  }
}

/** The stock clients a test file joins; `destroyAll()` in afterEach releases them. */
export function providerPool(url: () => string) {
  const clients: ProviderClient[] = []
  return {
    async join(room: string, opts: Parameters<typeof connectProvider>[2] = {}): Promise<ProviderClient> {
      const c = await connectProvider(url(), room, opts)
      clients.push(c)
      return c
    },
    /** Destroys one client now (it leaves the room). */
    leave(c: ProviderClient): void {
      clients.splice(clients.indexOf(c), 1)
      c.destroy()
    },
    destroyAll(): void {
      for (const c of clients.splice(0)) c.destroy()
    },
  }
}

/** Applies a stored room (Storage.load) to `doc` as the server loads it: V2 snapshots as V2. */
export function applyStoredDocument(doc: Y.Doc, stored: StoredDocument): void {
  applyStored(doc, stored.updates, stored.v2)
}

/** A new Y.Doc holding a stored room (Storage.load). */
export function storedDoc(stored: StoredDocument): Y.Doc {
  const doc = new Y.Doc()
  applyStoredDocument(doc, stored)
  return doc
}

/**
 * Makes `x.close()` idempotent (a test may close it itself) and adds it to `closers`, which
 * the test file runs after each test.
 */
export function closeOnce<T extends { close(): unknown }>(x: T, closers: Array<() => unknown>): T {
  let closed: Promise<unknown> | null = null
  const close = x.close.bind(x)
  x.close = (() => (closed ??= Promise.resolve(close()))) as T['close']
  closers.push(() => x.close())
  return x
}
