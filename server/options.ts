/** Server options and their defaults (the CLI flags map onto these one to one). */
import type { Logger } from './logger.js'
import type { AuthenticateHook, YroomPlugin } from './plugin.js'
import type { Storage } from './storage/storage.js'

export interface ServerOptions {
  /** Port to listen on; 0 picks a free one. Default 1234. */
  port?: number
  /** Host to bind. Default '0.0.0.0' for the CLI, '127.0.0.1' is what tests use. */
  host?: string
  /** Storage: a Storage instance, ':memory:', or a LevelDB directory. Default './data'. */
  storage?: Storage | string
  /** Fan-out tick in ms; 0 sends at the end of each incoming message. Default 50. */
  tickMs?: number
  /**
   * Incoming updates wait for the tick to be applied together in one transaction, each
   * judged on its own. Those that might be rejected (they touch another client's content,
   * or their connection had a rejected write in the last 10 s, or is read-only) are applied
   * within this long (ms) instead, so their rollbacks come quickly; 0: at the end of the
   * event-loop turn. Capped by tickMs. Default 10.
   */
  applyDelayMs?: number
  /** Unload a room this long after its last client leaves. Default 30000. */
  idleShutdownMs?: number
  /** Ping interval; a connection with no pong by the next ping is closed. Default 30000. */
  heartbeatMs?: number
  /**
   * Largest incoming message in bytes; larger ones close the connection with 1009, which
   * the SDK does not retry. A legitimate message (a big paste, an offline client's catch-up
   * sync) can be as large as the document, so the default is maxDocumentBytes.
   */
  maxMessageBytes?: number
  /**
   * Largest document a room may grow to, measured on the document (its encoded state), not
   * on the stored log. An update that would pass it is refused (close 4413). Default 64 MB.
   */
  maxDocumentBytes?: number
  /**
   * Deepest nesting of shared types (a root type is depth 1). An update that would nest
   * deeper is refused whole, nothing of it applied (close 4422). Default 128.
   */
  maxNestingDepth?: number
  /** Awareness client ids one connection may publish states under. Default 4. */
  maxAwarenessIdsPerConnection?: number
  /**
   * Open WebSocket connections in all; more are closed with 1013. Sockets that are not (yet)
   * WebSocket connections have a cap of the same size: more are destroyed on accept.
   * 0: no limit. Default 10000.
   */
  maxConnections?: number
  /**
   * Open WebSocket connections per remote address (IPv6: per /64); more are closed with
   * 1013. Sockets that are not (yet) WebSocket connections have a cap of the same size.
   * Behind a reverse proxy every client has the proxy's address: raise it (or 0: no limit)
   * and limit per client in the proxy. Default 256.
   */
  maxConnectionsPerAddress?: number
  /**
   * Time a client has to send its HTTP request headers (slowloris): then 408 and the socket
   * is closed. 0: no limit. Default 10000 ms.
   */
  headersTimeoutMs?: number
  /**
   * Incoming messages per second per connection (a token bucket). A faster sender is slowed
   * (its socket is not read until it is within the rate: TCP pushes back), never closed —
   * unless a single read holds more messages than a minute's worth. Default 1000.
   */
  messagesPerSecond?: number
  /** Messages a connection may send at once before the rate applies. Default 2000. */
  messageBurst?: number
  /**
   * Incoming bytes per second per connection, with two seconds' worth as burst. Enforced
   * like the message rate: any one message up to maxMessageBytes is taken, and the
   * connection then waits until it is within the rate. Default 8 MiB.
   */
  bytesPerSecond?: number
  /**
   * Memory for large messages (over 256 KiB) still arriving, across all connections. A
   * connection that would pass it waits (is not read) until earlier ones have arrived; the
   * oldest always goes on. Default 256 MiB.
   */
  maxPendingBytes?: number
  /**
   * Slow consumers: a connection is dropped when the data queued for it passes the largest
   * message in its queue by more than this (the one big message, e.g. a late joiner's whole
   * document, is always delivered to a client that reads it), or when queued data has not
   * moved for a whole heartbeat interval. Also caps what a client may send before its
   * connection is set up. Default 4 MiB.
   */
  maxBufferedBytes?: number
  /** Compact a room's stored log when it has more entries than this. Default 200 (one entry per tick). */
  compactAfterEntries?: number
  /** Authentication hook; default: every connection is an anonymous principal. */
  authenticate?: AuthenticateHook
  /** Plugins, in order. `createServer` adds none by itself; the CLI adds authority. */
  plugins?: YroomPlugin[]
  /** Directory of static files served on GET (the example app). */
  staticDir?: string
  /** A pino logger, or a level name. Default: 'info', 'silent' under tests. */
  logger?: Logger | string
  /** Also collect Node's default process metrics. Default true. */
  processMetrics?: boolean
}

export type ResolvedOptions = Required<Omit<ServerOptions, 'authenticate' | 'staticDir' | 'logger' | 'storage'>> &
  Pick<ServerOptions, 'authenticate' | 'staticDir'>

const DEFAULT_MAX_DOCUMENT_BYTES = 64 * 1024 * 1024

export function resolveOptions(o: ServerOptions): ResolvedOptions {
  return {
    port: o.port ?? 1234,
    host: o.host ?? '0.0.0.0',
    tickMs: o.tickMs ?? 50,
    applyDelayMs: o.applyDelayMs ?? 10,
    idleShutdownMs: o.idleShutdownMs ?? 30_000,
    heartbeatMs: o.heartbeatMs ?? 30_000,
    maxMessageBytes: o.maxMessageBytes ?? o.maxDocumentBytes ?? DEFAULT_MAX_DOCUMENT_BYTES,
    maxDocumentBytes: o.maxDocumentBytes ?? DEFAULT_MAX_DOCUMENT_BYTES,
    maxNestingDepth: o.maxNestingDepth ?? 128,
    maxAwarenessIdsPerConnection: o.maxAwarenessIdsPerConnection ?? 4,
    maxConnections: o.maxConnections ?? 10_000,
    maxConnectionsPerAddress: o.maxConnectionsPerAddress ?? 256,
    headersTimeoutMs: o.headersTimeoutMs ?? 10_000,
    messagesPerSecond: o.messagesPerSecond ?? 1000,
    messageBurst: o.messageBurst ?? 2000,
    bytesPerSecond: o.bytesPerSecond ?? 8 * 1024 * 1024,
    maxPendingBytes: o.maxPendingBytes ?? 256 * 1024 * 1024,
    maxBufferedBytes: o.maxBufferedBytes ?? 4 * 1024 * 1024,
    compactAfterEntries: o.compactAfterEntries ?? 200,
    plugins: o.plugins ?? [],
    processMetrics: o.processMetrics ?? true,
    authenticate: o.authenticate,
    staticDir: o.staticDir,
  }
}
