/**
 * createServer: wires HTTP, WebSocket upgrades, authentication, heartbeat and the room
 * registry together. Everything about documents lives in rooms.ts / room.ts.
 */
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { hostname } from 'node:os'
import type { Duplex } from 'node:stream'
import { WebSocketServer, type RawData, type WebSocket } from 'ws'
import { CloseCode } from '../src/shared/protocol/close-codes.js'
import { MESSAGE_AWARENESS } from '../src/shared/protocol/message-types.js'
import { MAX_AWARENESS_MESSAGE_BYTES } from './room/awareness.js'
import { roomNameError } from '../src/shared/layout.js'
import { closeSocket, Connection } from './transport/connection.js'
import { ConnectionGate, httpTimeouts } from './transport/connection-limits.js'
import { handleMessage } from './room/dispatch.js'
import { handleHttp } from './transport/http.js'
import { staticFiles } from './transport/static-files.js'
import { handleApi } from './http/api.js'
import type { ApiContext } from './http/context.js'
import { webhooksPlugin } from '../plugins/webhooks/index.js'
import { createLogger, type Logger } from './logger.js'
import { Metrics } from './metrics.js'
import { DEFAULTS, resolveOptions, type ResolvedOptions, type ServerOptions } from './options.js'
import { Refusal, type Principal } from './plugin.js'
import { jwtAuthenticator, jwtConfigured } from './transport/jwt.js'
import { TokenExpiry } from './transport/token-expiry.js'
import { decodeExtension, ExtKind, isHelloMessage, isTokenMessage } from '../src/shared/protocol/extension.js'
import * as decoding from 'lib0/decoding'
import type { Room } from './room/room.js'
import { Rooms } from './room/rooms.js'
import { InboundFlow, PendingBudget } from './transport/inbound-flow.js'
import { openStorage } from './storage/open.js'
import { StorageDamaged } from './storage/integrity.js'
import { RoomLeased, type Storage } from './storage/storage.js'
import type { Cluster } from './cluster/cluster.js'
import type { RelayedRoom } from './cluster/relayed-room.js'
import { RemoteConnection } from './cluster/remote-connection.js'

export interface YroomServer {
  /** Starts listening; resolves with the bound port. */
  listen(): Promise<number>
  /** Stops accepting, closes connections, flushes and unloads every room, closes storage. */
  close(): Promise<void>
  /** The room registry: loaded rooms, backend edits (`rooms.edit`), reads. */
  readonly rooms: Rooms
  readonly storage: Storage
  readonly metrics: Metrics
  readonly logger: Logger
  readonly options: ResolvedOptions
  /** The bound port (after listen). */
  readonly port: number
  /** Open connections. */
  readonly connections: ReadonlySet<Connection>
  /**
   * Makes every open connection of a principal read-only (`true`: its next write is rolled
   * back) or writable again (`false`); `null` returns them to what their token says. Lasts
   * for these connections, over token refreshes; new connections follow their token.
   * Returns how many connections it changed.
   */
  setReadOnly(principalId: string, readOnly: boolean | null): number
  /** Closes every open connection of a principal with 4410 and `reason`; returns how many. */
  kick(principalId: string, reason?: string): number
}

let anonymousCounter = 0

/** The close code for an authentication refusal. */
function authCloseCode(err: unknown): number {
  if (err instanceof Refusal && err.code === 'forbidden') return CloseCode.FORBIDDEN
  if (err instanceof Refusal && err.code === 'unavailable') return CloseCode.TRY_AGAIN_LATER
  return CloseCode.UNAUTHORIZED
}

function toBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return new Uint8Array(Buffer.concat(data))
  if (data instanceof ArrayBuffer) return new Uint8Array(data)
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
}

/** Parses `/<room>?token=…` into a room name, or returns an error text. */
function parseTarget(req: IncomingMessage): { room: string; token: string | null } | { error: string } {
  // Split by hand rather than with `new URL`: it would read `//name` as a host and resolve
  // `.` and `..` segments, changing the room a client asked for.
  const target = req.url ?? '/'
  const q = target.indexOf('?')
  const path = q === -1 ? target : target.slice(0, q)
  let room: string
  try {
    room = decodeURIComponent(path.slice(1))
  } catch {
    return { error: 'room name is not valid URL encoding' }
  }
  const err = roomNameError(room)
  return err ? { error: err } : { room, token: new URLSearchParams(q === -1 ? '' : target.slice(q + 1)).get('token') }
}

export async function createServer(input: ServerOptions = {}): Promise<YroomServer> {
  const options = resolveOptions(input)
  const jwt = { secret: options.jwtSecret, publicKey: options.jwtPublicKey, jwksUrl: options.jwksUrl, issuer: options.jwtIssuer, audience: options.jwtAudience }
  if (jwtConfigured(jwt) && options.authenticate) {
    throw new Error('give either an authenticate hook or JWT options (jwtSecret, jwtPublicKey, jwksUrl), not both: call jwtAuthenticator() from your hook instead')
  }
  // JWT is a built-in authenticate hook (transport/jwt.ts).
  const authenticateHook = options.authenticate ?? (jwtConfigured(jwt) ? jwtAuthenticator(jwt) : undefined)
  const logger = typeof input.logger === 'object' ? input.logger : createLogger(input.logger)
  const metrics = new Metrics(options.processMetrics)
  // Webhooks are a plugin (plugins/webhooks), the last one: it reports what the others decided.
  const webhooks = options.webhooks.length > 0 ? webhooksPlugin({ urls: options.webhooks, secret: options.webhookSecret ?? '', metrics, logger }) : null
  if (webhooks) options.plugins = [...options.plugins, webhooks]
  const storage = typeof input.storage === 'object' ? input.storage : await openStorage(input.storage ?? DEFAULTS.storage, { leaseMs: options.leaseMs, nodeId: options.nodeId })
  const rooms = new Rooms({ storage, options, plugins: options.plugins, metrics, logger })
  const cluster = options.redis ? await startCluster(options.redis, storage, rooms, options, metrics, logger) : null
  const connections = new Set<Connection>()
  let serving = false
  let port = 0

  const gate = new ConnectionGate(options, metrics, logger)
  // The HTTP API (server/http): /api/v1/…
  const api: ApiContext = {
    ...{ apiKey: options.apiKey, rooms, storage, connections, plugins: options.plugins, metrics, logger, cluster: cluster !== null },
    ...{ maxBodyBytes: options.maxMessageBytes, maxNestingDepth: options.maxNestingDepth, maxDocumentBytes: options.maxDocumentBytes },
    kick: (principal, reason) => server.kick(principal, reason),
    setReadOnly: (principal, readOnly) => server.setReadOnly(principal, readOnly),
    nodeUrl: cluster ? (node) => cluster.httpUrlOf(node) : undefined,
    peerUrls: cluster ? () => cluster.peerUrls() : undefined,
  }
  const apiRoute = (rq: IncomingMessage, rs: import('node:http').ServerResponse, url: URL) => handleApi(api, rq, rs, url)
  /** Plugins' HTTP routes (YroomPlugin.http), in registration order. */
  const routed = options.plugins.filter((p) => p.http)
  const pluginRoutes = async (request: IncomingMessage, response: ServerResponse, url: URL): Promise<boolean> => {
    const nodeUrl = cluster ? (node: string) => cluster.httpUrlOf(node) : undefined
    for (const p of routed) if (await p.http!({ request, response, url, rooms, storage, node: cluster?.node, nodeUrl })) return true
    return false
  }
  const serveStatic = options.staticDir ? staticFiles(options.staticDir) : undefined
  const http = createHttpServer(httpTimeouts(options.headersTimeoutMs), (req, res) => {
    handleHttp({ metrics, staticFiles: serveStatic, isServing: () => serving, leases: storage.leases?.bind(storage), cluster: cluster ? () => cluster.status() : undefined, routes: pluginRoutes, api: apiRoute }, req, res).catch((err) => {
      logger.error({ err }, 'http handler failed')
      if (!res.headersSent) res.writeHead(500).end()
    })
  })
  // ws cuts off messages over maxPayload while receiving them, but closes with 1009 and no
  // reason. Its cap is set a little above the limit so that messages just over it are
  // refused in `deliver` with a reason; larger ones still never get buffered whole.
  const wss = new WebSocketServer({ noServer: true, maxPayload: options.maxMessageBytes + 64 * 1024 })
  // Large messages still arriving share one memory budget (inbound-flow.ts).
  const pendingBudget = new PendingBudget(options.maxPendingBytes)

  // Every TCP socket is counted from its accept (connection-limits.ts); over the limits it
  // is destroyed before a byte of it is parsed.
  http.on('connection', (socket: Socket) => void gate.accept(socket))
  // Errors of a socket before it became a WebSocket: a header timeout (slowloris), a
  // malformed or oversized request. Answered like Node's default handler, and counted.
  http.on('clientError', (err: Error & { code?: string }, socket: Duplex) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy()
      return
    }
    const timeout = err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
    const reason = timeout ? 'headers-timeout' : 'bad-request'
    metrics.rejectedMessages.inc({ reason })
    gate.log.warn(reason, { code: err.code }, timeout ? 'request headers not received in time' : 'malformed HTTP request')
    const status = timeout ? '408 Request Timeout' : err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request'
    socket.write(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`)
    socket.destroy()
  })

  http.on('upgrade', (req, socket: Socket, head) => {
    if (!serving) {
      socket.destroy()
      return
    }
    const refused = gate.admit(socket)
    wss.handleUpgrade(req, socket, head, (ws) => {
      if (refused) {
        // Completed and closed with a reason, so the client sees why; existing connections
        // are untouched. A client that does not finish the closing handshake is cut off.
        ws.on('error', () => {}) // whatever it sends now is not read; an unheard 'error' would throw
        metrics.rejectedMessages.inc({ reason: refused.reason })
        gate.log.warn(refused.reason, { address: socket.remoteAddress }, `connection refused: ${refused.message}`)
        closeSocket(ws, CloseCode.TRY_AGAIN_LATER, refused.message)
        setTimeout(() => ws.terminate(), 1000).unref()
        return
      }
      // Flow control from the first byte: a fast sender is slowed by backpressure.
      const flow = new InboundFlow(ws, socket, options, pendingBudget, (reason) => metrics.inboundPauses.inc({ reason }))
      ws.on('close', () => flow.dispose())
      // A failure while setting up one connection must never take the process down.
      onSocket(ws, socket, req, flow).catch((err) => {
        logger.error({ err }, 'connection setup failed')
        closeSocket(ws, CloseCode.INTERNAL_ERROR, 'connection setup failed')
      })
    })
  })

  // Cluster mode: anonymous principals are told apart across nodes.
  const anonymousPrefix = cluster ? `anonymous:${cluster.node}:` : 'anonymous:'
  async function authenticate(room: string, req: IncomingMessage, token: string | null): Promise<Principal> {
    if (authenticateHook) return authenticateHook({ room, request: req, token })
    return { id: `${anonymousPrefix}${++anonymousCounter}`, anonymous: true }
  }
  // Tokens that expire mid-session: refresh requests, new tokens, closing (token-expiry.ts).
  const tokens = new TokenExpiry({
    graceMs: options.tokenRefreshGraceMs,
    authenticate: authenticateHook ? authenticate : null,
    closeCodeOf: authCloseCode,
    logger,
  })
  /** An established connection, either path: its token is watched until the socket closes. */
  function watchToken(ws: WebSocket, conn: Connection, req: IncomingMessage): void {
    tokens.watch(conn, req)
    ws.once('close', () => tokens.forget(conn))
  }

  /**
   * The checks every incoming message passes before any room sees it: the bytes, or null
   * when the message was ignored or the connection closed for it.
   */
  function admit(conn: Connection, data: RawData, isBinary: boolean): Uint8Array | null {
    conn.alive = true
    if (conn.closed) return null
    const bytes = toBytes(data)
    if (bytes[0] === MESSAGE_AWARENESS && bytes.byteLength > Math.min(MAX_AWARENESS_MESSAGE_BYTES, options.maxMessageBytes)) {
      // Stock clients relay the awareness they receive: an oversized one is ignored, not
      // held against the client that relayed it.
      metrics.rejectedMessages.inc({ reason: 'oversize-awareness' })
      return null
    }
    if (bytes.byteLength > options.maxMessageBytes) {
      metrics.rejectedMessages.inc({ reason: 'oversize' })
      logger.warn({ room: conn.room, conn: conn.id, bytes: bytes.byteLength }, 'message over the size limit')
      conn.close(CloseCode.MESSAGE_TOO_BIG, `message of ${bytes.byteLength} bytes over the limit of ${options.maxMessageBytes}`)
      return null
    }
    if (!isBinary) {
      metrics.rejectedMessages.inc({ reason: 'text-frame' })
      logger.warn({ room: conn.room, conn: conn.id }, 'text frame')
      conn.close(CloseCode.UNSUPPORTED_DATA, 'binary messages only')
      return null
    }
    // A new token belongs to the connection, not to its room (relayed ones included).
    if (isTokenMessage(bytes)) {
      let token: string
      try {
        const msg = decodeExtension(decoding.createDecoder(bytes.subarray(1)))
        if (msg.kind !== ExtKind.TOKEN) return null
        token = msg.body.token
      } catch (err) {
        conn.close(CloseCode.PROTOCOL_ERROR, `malformed message: ${(err as Error).message}`)
        return null
      }
      void tokens.refresh(conn, token)
      return null
    }
    if (isHelloMessage(bytes)) tokens.helloed(conn)
    return bytes
  }

  /** Runs a message's handling under the last net. */
  function dispatch(conn: Connection, run: () => void): void {
    try {
      run()
    } catch (err) {
      // Handlers answer every failure themselves; this is the last net, so that nothing
      // one connection sends can reach ws's receiver as an exception (it would end the process).
      logger.error({ err, room: conn.room, conn: conn.id }, 'message handling failed')
      conn.close(CloseCode.INTERNAL_ERROR, 'internal error')
    }
  }

  /**
   * Cluster mode, a room another node is the authority of: the connection's messages are
   * relayed to it (cluster/relayed-room.ts), until this node takes the room over.
   */
  function relay(ws: WebSocket, req: IncomingMessage, conn: Connection, c: Cluster, early: Array<{ data: RawData; isBinary: boolean }>, setDeliver: (d: (data: RawData, isBinary: boolean) => void) => void): void {
    if (ws.readyState !== ws.OPEN || !serving) {
      if (ws.readyState === ws.OPEN) closeSocket(ws, CloseCode.GOING_AWAY, 'server shutting down')
      return
    }
    const r: RelayedRoom = c.relayFor(conn)
    connections.add(conn)
    metrics.connections.set(connections.size)
    watchToken(ws, conn, req)
    ws.on('pong', () => (conn.alive = true))
    ws.on('close', () => {
      conn.closed = true
      connections.delete(conn)
      metrics.connections.set(connections.size)
      c.leave(r, conn)
    })
    const handle = (data: RawData, isBinary: boolean): void => {
      const bytes = admit(conn, data, isBinary)
      if (bytes) dispatch(conn, () => r.forward(conn, bytes))
    }
    setDeliver(handle)
    for (const m of early.splice(0)) handle(m.data, m.isBinary)
  }

  async function onSocket(ws: WebSocket, stream: Duplex, req: IncomingMessage, flow: InboundFlow): Promise<void> {
    // Listen at once: messages that arrive during auth and room load are queued, not lost.
    const early: Array<{ data: RawData; isBinary: boolean }> = []
    let deliver: ((data: RawData, isBinary: boolean) => void) | null = null
    let conn: Connection | null = null
    let earlyBytes = 0
    ws.on('message', (data, isBinary) => {
      if (!flow.onMessage()) {
        metrics.rejectedMessages.inc({ reason: 'rate' })
        logger.warn({ conn: conn?.id, room: conn?.room }, 'message rate over the limit')
        flow.closing()
        closeSocket(ws, CloseCode.POLICY_VIOLATION, 'message rate over the limit')
        return
      }
      if (deliver) return deliver(data, isBinary)
      // Bounded: a client may not pile up data while a slow auth hook or room load runs.
      earlyBytes += toBytes(data).byteLength
      if (earlyBytes > options.maxBufferedBytes) closeSocket(ws, CloseCode.POLICY_VIOLATION, 'too much data before the connection was set up')
      else early.push({ data, isBinary })
    })
    ws.on('error', (err: Error & { code?: string }) => {
      const reason = err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' ? 'oversize' : 'frame-error'
      metrics.rejectedMessages.inc({ reason })
      logger.warn({ err: err.message, code: err.code }, 'websocket error')
    })

    const target = parseTarget(req)
    if ('error' in target) {
      metrics.rejectedMessages.inc({ reason: 'invalid-room' })
      // The path only: the query holds the token, which must not reach the logs.
      logger.warn({ url: req.url?.split('?')[0].slice(0, 200), reason: target.error }, 'invalid room name')
      closeSocket(ws, CloseCode.INVALID_ROOM, target.error)
      return
    }
    let principal: Principal
    try {
      principal = await authenticate(target.room, req, target.token)
    } catch (err) {
      const code = authCloseCode(err)
      logger.info({ room: target.room, code, reason: (err as Error)?.message }, 'authentication refused')
      closeSocket(ws, code, (err as Error)?.message || 'unauthorized')
      return
    }
    // A hook written in plain JS may return anything; a connection without an id would
    // break identity binding for everyone in the room.
    if (typeof principal !== 'object' || principal === null || typeof principal.id !== 'string') {
      logger.error({ room: target.room }, 'authenticate returned no principal with a string id')
      closeSocket(ws, CloseCode.INTERNAL_ERROR, 'authentication failed')
      return
    }
    if (!serving) {
      closeSocket(ws, CloseCode.GOING_AWAY, 'server shutting down')
      return
    }
    conn = new Connection(ws, stream, target.room, principal, metrics, options, logger, flow)
    let room: Room
    try {
      room = await rooms.open(target.room)
      for (const p of options.plugins) await p.onConnect?.({ room, connection: conn })
    } catch (err) {
      if (err instanceof RoomLeased && cluster) {
        // Cluster mode: another node is the room's authority; this one relays (SPEC §11).
        relay(ws, req, conn, cluster, early, (d) => (deliver = d))
        return
      }
      if (err instanceof Refusal) {
        logger.info({ room: target.room, principal: principal.id, reason: err.message }, 'connection refused by a plugin')
        closeSocket(ws, CloseCode.FORBIDDEN, err.message)
      } else if (err instanceof StorageDamaged) {
        // SPEC §12: a damaged room is refused (never served truncated); other rooms go on.
        logger.error({ room: target.room, damage: err.summary }, 'stored state of the room is damaged; yroom repair accepts the loss')
        closeSocket(ws, CloseCode.INTERNAL_ERROR, err.closeReason)
      } else if (err instanceof RoomLeased) {
        // Another server writes this room (SPEC §11): the client retries.
        logger.warn({ room: target.room, holder: err.holder }, 'room is served by another server')
        closeSocket(ws, CloseCode.TRY_AGAIN_LATER, 'room is served by another server; try again')
      } else {
        logger.error({ err, room: target.room }, 'join failed')
        closeSocket(ws, CloseCode.INTERNAL_ERROR, 'room could not be opened')
      }
      return
    }
    if (ws.readyState !== ws.OPEN || !serving) {
      // Plugins saw onConnect: they get the matching onDisconnect.
      void rooms.detach(room, conn)
      // close() began while this connection was being set up; its list of sockets to close
      // was taken before this one existed.
      if (ws.readyState === ws.OPEN) closeSocket(ws, CloseCode.GOING_AWAY, 'server shutting down')
      return
    }
    connections.add(conn)
    metrics.connections.set(connections.size)
    watchToken(ws, conn, req)
    ws.on('pong', () => (conn.alive = true))
    // Detach once, from the room the connection actually joined: the socket may close
    // while attach still waits (e.g. for an unload of the room to finish).
    let attached: Room | null = null
    let socketClosed = false
    const detach = () => {
      if (!attached || !socketClosed) return
      const joined = attached
      attached = null
      void rooms.detach(joined, conn)
    }
    ws.on('close', () => {
      conn.closed = true
      socketClosed = true
      connections.delete(conn)
      metrics.connections.set(connections.size)
      detach()
    })
    const handle = (data: RawData, isBinary: boolean): void => {
      const bytes = admit(conn, data, isBinary)
      if (bytes) dispatch(conn, () => handleMessage(room, conn, bytes))
    }
    room = attached = await rooms.attach(conn)
    detach() // closed while attaching
    if (socketClosed) return
    // Only now: messages that arrived while attach waited (e.g. for an unload) belong to
    // the room the connection joined, not to the one `open` returned before.
    deliver = handle
    for (const m of early.splice(0)) handle(m.data, m.isBinary)
  }

  // Heartbeat: a connection that did not answer the previous ping is dead.
  let heartbeat: NodeJS.Timeout | null = null
  function startHeartbeat(): void {
    heartbeat = setInterval(() => {
      for (const conn of connections) {
        // A paused socket (inbound-flow.ts) is not read, its pongs included.
        if (!conn.alive && !conn.inbound.paused) {
          logger.info({ conn: conn.id, room: conn.room }, 'heartbeat timeout')
          conn.terminate()
          continue
        }
        if (conn.stalled()) {
          conn.drop('slow consumer: nothing read for a heartbeat interval', { heartbeatMs: options.heartbeatMs })
          continue
        }
        conn.alive = false
        try {
          conn.socket.ping()
        } catch {
          conn.terminate()
        }
      }
    }, options.heartbeatMs)
    heartbeat.unref()
  }

  const server: YroomServer = {
    rooms,
    storage,
    metrics,
    logger,
    options,
    connections,
    get port() {
      return port
    },
    setReadOnly(principalId, readOnly) {
      const change = (conn: Connection) => {
        const was = conn.readOnly
        conn.readOnlyOverride = readOnly
        // Told again (y-protocols auth message) at its next refused write.
        if (conn.readOnly !== was) conn.permissionDeniedSent = false
      }
      let n = 0
      for (const conn of connections) {
        if (conn.principal.id !== principalId || conn.closed) continue
        change(conn)
        n++
      }
      // Cluster mode: the principal's clients of other nodes in rooms this node is the
      // authority of are judged here, so their stand-ins change too. Not counted: their own
      // node counts their sockets (the HTTP API asks every node).
      if (cluster) {
        for (const room of rooms.all.values()) {
          for (const conn of room.connections) if (conn instanceof RemoteConnection && conn.principal.id === principalId && !conn.closed) change(conn)
        }
      }
      if (n > 0) logger.info({ principal: principalId, readOnly, connections: n }, 'rights changed')
      return n
    },
    kick(principalId, reason = 'kicked') {
      let n = 0
      for (const conn of connections) {
        if (conn.principal.id !== principalId || conn.closed) continue
        conn.close(CloseCode.KICKED, reason)
        n++
      }
      if (n > 0) logger.info({ principal: principalId, reason, connections: n }, 'principal kicked')
      return n
    },
    listen() {
      return new Promise((resolve, reject) => {
        http.once('error', reject)
        http.listen(options.port, options.host, () => {
          http.off('error', reject)
          port = (http.address() as AddressInfo).port
          serving = true
          startHeartbeat()
          void cluster?.advertise(options.advertiseUrl ?? `http://${/^(0\.0\.0\.0|::)?$/.test(options.host) ? hostname() : options.host}:${port}`)
          logger.info({ port, host: options.host }, 'yroom listening')
          resolve(port)
        })
      })
    },
    async close() {
      serving = false
      if (heartbeat) clearInterval(heartbeat)
      const closing = [...connections].map(
        (c) => new Promise<void>((resolve) => {
          c.socket.once('close', () => resolve())
          c.close(CloseCode.GOING_AWAY, 'server shutting down')
          setTimeout(() => {
            c.terminate()
            resolve()
          }, 1000).unref()
        }),
      )
      await Promise.all(closing)
      // Let detach hooks (onDisconnect) of the closed connections run first.
      await new Promise((r) => setImmediate(r))
      cluster?.detachRemotes()
      await rooms.unloadAll()
      // Webhooks get a moment to deliver the last events (room.unloaded).
      await webhooks?.close(2000)
      await cluster?.close()
      await storage.close()
      wss.close()
      // close() waits for every HTTP connection to end; a browser keeps its page's
      // connection alive, so end them all (requests are done: we are shutting down).
      const closed = new Promise<void>((resolve) => http.close(() => resolve()))
      http.closeAllConnections()
      await closed
      logger.info('yroom stopped')
    },
  }
  return server
}

/** Cluster mode needs shared storage: LevelDB and `:memory:` are refused with why. */
async function startCluster(url: string, storage: Storage, rooms: Rooms, options: ResolvedOptions, metrics: Metrics, logger: Logger): Promise<Cluster> {
  if (!/^rediss?:\/\//i.test(url)) throw new Error(`--redis must be a redis:// URL, got ${JSON.stringify(url)}`)
  if (!storage.leases || !storage.epoch || !storage.unleased) {
    throw new Error('cluster mode (--redis) needs storage shared by every node: use --data postgres://USER@HOST:PORT/DB (LevelDB and :memory: belong to one process)')
  }
  const { Cluster } = await import('./cluster/cluster.js')
  const cluster = new Cluster({ redisUrl: url, leaseMs: options.leaseMs, storage, rooms, metrics, logger })
  await cluster.start()
  return cluster
}
