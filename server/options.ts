/**
 * Server options, declared once: DEFAULTS are what resolveOptions applies, SETTINGS say what
 * each option (and each `yroom serve` flag) does. `yroom serve --help` and the options table
 * in docs/server.md are generated from them (test/docs-reference.ts), so the field comments
 * below stay short: the descriptions live in SETTINGS, not here.
 */
import type { Logger } from './logger.js'
import type { AuthenticateHook, YroomPlugin } from './plugin.js'
import type { Storage } from './storage/storage.js'

/** What `createServer` takes; each field is described in SETTINGS. */
export interface ServerOptions {
  port?: number
  host?: string
  storage?: Storage | string
  tickMs?: number
  adaptiveTick?: boolean
  applyDelayMs?: number
  idleShutdownMs?: number
  heartbeatMs?: number
  maxMessageBytes?: number
  maxDocumentBytes?: number
  maxNestingDepth?: number
  maxAwarenessIdsPerConnection?: number
  maxConnections?: number
  maxConnectionsPerAddress?: number
  headersTimeoutMs?: number
  messagesPerSecond?: number
  messageBurst?: number
  bytesPerSecond?: number
  maxPendingBytes?: number
  maxBufferedBytes?: number
  compactAfterEntries?: number
  compactQuietMs?: number
  leaseMs?: number
  nodeId?: string
  redis?: string
  authenticate?: AuthenticateHook
  jwtSecret?: string
  jwtPublicKey?: string
  jwksUrl?: string
  jwtIssuer?: string
  jwtAudience?: string
  tokenRefreshGraceMs?: number
  apiKey?: string
  webhooks?: string[]
  webhookSecret?: string
  advertiseUrl?: string
  plugins?: YroomPlugin[]
  staticDir?: string
  logger?: Logger | string
  processMetrics?: boolean
}

type OptionalOptions = 'advertiseUrl' | 'apiKey' | 'webhookSecret' | 'authenticate' | 'staticDir' | 'nodeId' | 'redis' | 'jwtSecret' | 'jwtPublicKey' | 'jwksUrl' | 'jwtIssuer' | 'jwtAudience'
export type ResolvedOptions = Required<Omit<ServerOptions, OptionalOptions | 'logger' | 'storage'>> & Pick<ServerOptions, OptionalOptions>

const MiB = 1024 * 1024

/** The defaults that are plain values (the docs and --help show them from here). */
export const DEFAULTS = {
  port: 1234,
  host: '0.0.0.0',
  // createServer (server.ts) and the CLI open this when no storage is given.
  storage: './data',
  tickMs: 50,
  adaptiveTick: true,
  applyDelayMs: 10,
  idleShutdownMs: 30_000,
  heartbeatMs: 30_000,
  maxDocumentBytes: 64 * MiB,
  maxNestingDepth: 128,
  maxAwarenessIdsPerConnection: 4,
  maxConnections: 10_000,
  maxConnectionsPerAddress: 256,
  headersTimeoutMs: 10_000,
  messagesPerSecond: 1000,
  messageBurst: 2000,
  bytesPerSecond: 8 * MiB,
  maxPendingBytes: 256 * MiB,
  maxBufferedBytes: 4 * MiB,
  compactAfterEntries: 200,
  compactQuietMs: 1000,
  leaseMs: 5000,
  tokenRefreshGraceMs: 30_000,
  processMetrics: true,
} satisfies { [K in keyof ServerOptions]?: ServerOptions[K] & (number | string | boolean) }

export function resolveOptions(o: ServerOptions): ResolvedOptions {
  const d = DEFAULTS
  return {
    port: o.port ?? d.port,
    host: o.host ?? d.host,
    tickMs: o.tickMs ?? d.tickMs,
    adaptiveTick: o.adaptiveTick ?? d.adaptiveTick,
    applyDelayMs: o.applyDelayMs ?? d.applyDelayMs,
    idleShutdownMs: o.idleShutdownMs ?? d.idleShutdownMs,
    heartbeatMs: o.heartbeatMs ?? d.heartbeatMs,
    // A legitimate message (a big paste, an offline client's catch-up) can be as large as the document.
    maxMessageBytes: o.maxMessageBytes ?? o.maxDocumentBytes ?? d.maxDocumentBytes,
    maxDocumentBytes: o.maxDocumentBytes ?? d.maxDocumentBytes,
    maxNestingDepth: o.maxNestingDepth ?? d.maxNestingDepth,
    maxAwarenessIdsPerConnection: o.maxAwarenessIdsPerConnection ?? d.maxAwarenessIdsPerConnection,
    maxConnections: o.maxConnections ?? d.maxConnections,
    maxConnectionsPerAddress: o.maxConnectionsPerAddress ?? d.maxConnectionsPerAddress,
    headersTimeoutMs: o.headersTimeoutMs ?? d.headersTimeoutMs,
    messagesPerSecond: o.messagesPerSecond ?? d.messagesPerSecond,
    messageBurst: o.messageBurst ?? d.messageBurst,
    bytesPerSecond: o.bytesPerSecond ?? d.bytesPerSecond,
    maxPendingBytes: o.maxPendingBytes ?? d.maxPendingBytes,
    maxBufferedBytes: o.maxBufferedBytes ?? d.maxBufferedBytes,
    compactAfterEntries: o.compactAfterEntries ?? d.compactAfterEntries,
    compactQuietMs: o.compactQuietMs ?? d.compactQuietMs,
    leaseMs: o.leaseMs ?? d.leaseMs,
    nodeId: o.nodeId,
    redis: o.redis,
    plugins: o.plugins ?? [],
    processMetrics: o.processMetrics ?? d.processMetrics,
    authenticate: o.authenticate,
    jwtSecret: o.jwtSecret,
    jwtPublicKey: o.jwtPublicKey,
    jwksUrl: o.jwksUrl,
    jwtIssuer: o.jwtIssuer,
    jwtAudience: o.jwtAudience,
    tokenRefreshGraceMs: o.tokenRefreshGraceMs ?? d.tokenRefreshGraceMs,
    apiKey: o.apiKey,
    webhooks: o.webhooks ?? [],
    webhookSecret: o.webhookSecret,
    advertiseUrl: o.advertiseUrl,
    staticDir: o.staticDir,
  }
}

/** One row of the options table in docs/server.md and, if it has a flag, one entry of `yroom serve --help`. */
export interface Setting {
  /** The ServerOptions field; a flag that configures a plugin names the plugin instead. */
  option: keyof ServerOptions | `(${string} plugin)`
  /** The `yroom serve` flag without its dashes, and the value it takes (none: a switch). */
  flag?: string
  value?: string
  /** The flag may be given several times (the option is a list). */
  multiple?: true
  /** The default as shown (Markdown), where DEFAULTS has no plain value for it. */
  default?: string
  /** The first sentence: --help prints it, the docs table starts with it. Markdown code spans only, no links. */
  help: string
  /** The rest of the docs table's text (Markdown). */
  more?: string
}

/** Every option and flag, in the order the docs and --help list them. */
export const SETTINGS: readonly Setting[] = [
  { option: 'port', flag: 'port', value: 'N', help: 'TCP port to listen on; `0` picks a free one.', more: '`listen()` resolves with the bound port.' },
  { option: 'host', flag: 'host', value: 'H', help: 'Interface to bind.', more: 'Tests use `127.0.0.1`.' },
  {
    option: 'storage',
    flag: 'data',
    value: 'DIR|:memory:|URL',
    help: 'A LevelDB directory (created if missing), `:memory:` to keep nothing on disk, or a PostgreSQL URL `postgres://USER@HOST:PORT/DB`.',
    more: 'Other URL forms are refused. A PostgreSQL URL may name the schema (`?schema=NAME`, default `yroom`). The API also takes your own `Storage` object. See [storage.md](storage.md).',
  },
  {
    option: 'leaseMs',
    flag: 'lease-ms',
    value: 'N',
    help: 'PostgreSQL: how long (ms) a server\'s lease on a room lasts without renewal.',
    more: 'Leases are renewed every third of it; a server that cannot renew gives its rooms up before they expire. See [storage.md: leases](storage.md#leases-and-epochs).',
  },
  {
    option: 'nodeId',
    flag: 'node-id',
    value: 'NAME',
    default: 'host:pid',
    help: 'PostgreSQL: this server\'s name in the lease table.',
    more: 'A restarted server takes no lease over, even under the same name.',
  },
  {
    option: 'redis',
    flag: 'redis',
    value: 'URL',
    default: 'off',
    help: 'Cluster mode: a Redis URL (`redis://HOST:PORT`) shared by every node; needs PostgreSQL storage.',
    more: 'Nodes relay their clients\' messages to each room\'s authority through Redis streams. LevelDB and `:memory:` are refused. See [scaling-out.md](scaling-out.md).',
  },
  {
    option: 'tickMs',
    flag: 'tick-ms',
    value: 'N',
    help: 'Fan-out tick in ms; `0` sends after each incoming message.',
    more: 'See [Fan-out](#fan-out-and-ticks).',
  },
  {
    option: 'adaptiveTick',
    flag: 'no-adaptive-tick',
    help: 'Batch every change for the tick, even in a quiet room.',
    more: 'The flag sets the option to `false`. By default a change in a quiet room goes out at once, and batching starts when the room gets busy. See [Fan-out](#fan-out-and-ticks).',
  },
  {
    option: 'applyDelayMs',
    flag: 'apply-delay-ms',
    value: 'N',
    help: 'Updates that might be rejected are applied within this many ms, the others at the tick.',
    more:
      "The others wait for the tick, to be applied together in one transaction (each judged on its own). An update might be rejected when it touches another client's content, or its connection had a rejected write in the last 10 s, or is read-only; applied early, its rollback comes quickly. `0`: at the end of the event-loop turn. Capped by `tickMs`. See [Fan-out](#fan-out-and-ticks).",
  },
  { option: 'idleShutdownMs', flag: 'idle-shutdown-ms', value: 'N', help: 'A room unloads this long (ms) after its last client leaves.' },
  {
    option: 'heartbeatMs',
    flag: 'heartbeat-ms',
    value: 'N',
    help: 'Ping interval in ms; a connection that has not answered (pong or any message) by the next ping is dropped.',
  },
  {
    option: 'maxMessageBytes',
    flag: 'max-message-bytes',
    value: 'N',
    default: '`maxDocumentBytes`',
    help: 'Largest incoming WebSocket message; larger: close 1009, which the SDK does not retry.',
    more: "The SDK keeps the local edits. A legitimate message (a big paste, an offline client's catch-up) can be as large as the document.",
  },
  {
    option: 'maxDocumentBytes',
    flag: 'max-document-bytes',
    value: 'N',
    help: "Largest a room's document may grow to; an update that would pass it is refused: close 4413.",
    more: 'Measured on the document (its encoded state), not on the stored log. Deletions and empty sync answers are always accepted.',
  },
  {
    option: 'maxNestingDepth',
    flag: 'max-nesting-depth',
    value: 'N',
    help: 'Deepest nesting of shared types (a root type is depth 1); a deeper update is refused whole: close 4422.',
    more: 'Nothing of it is applied.',
  },
  {
    option: 'maxAwarenessIdsPerConnection',
    flag: 'max-awareness-ids',
    value: 'N',
    help: 'Awareness client ids one connection may publish states under in its lifetime.',
    more: 'A stock client uses one. Entries under further ids are dropped; the rest of the message is applied.',
  },
  {
    option: 'maxConnections',
    flag: 'max-connections',
    value: 'N',
    help: 'Open WebSocket connections in all; a new one over it is closed with 1013. `0`: no limit.',
    more: 'The reason is `server at its connection limit`; open ones are untouched. Sockets that are not (yet) WebSocket connections have a cap of the same size: more are destroyed on accept. See [Connections](#connections).',
  },
  {
    option: 'maxConnectionsPerAddress',
    flag: 'max-connections-per-address',
    value: 'N',
    help: "The same per remote address (IPv6: per /64). Behind a reverse proxy every client has the proxy's address: raise it (or `0`: no limit) and limit per client in the proxy.",
    more: 'Close 1013 `too many connections from this address`. See [Connections](#connections).',
  },
  {
    option: 'headersTimeoutMs',
    flag: 'headers-timeout-ms',
    value: 'N',
    help: 'Time (ms) a client has, from connecting, to send its HTTP request headers; then HTTP 408. `0`: no limit.',
    more: 'Against slowloris. Checked every quarter of it, at least every second.',
  },
  {
    option: 'messagesPerSecond',
    flag: 'messages-per-second',
    value: 'N',
    help: 'Incoming messages per connection and second (a token bucket); a faster sender is slowed, not closed.',
    more: 'Its socket is not read until it is within the rate (backpressure). Only a single read holding more than a minute\'s worth is closed (1008). See [security: flow control](security.md#flow-control).',
  },
  { option: 'messageBurst', flag: 'message-burst', value: 'N', help: 'Messages a connection may send at once before the message rate applies.' },
  {
    option: 'bytesPerSecond',
    flag: 'bytes-per-second',
    value: 'N',
    help: "Incoming bytes per connection and second, two seconds' worth as burst, enforced the same way.",
    more: 'Any one message up to `maxMessageBytes` is taken, then the connection waits.',
  },
  {
    option: 'maxPendingBytes',
    flag: 'max-pending-bytes',
    value: 'N',
    help: 'Memory for large messages (over 256 KiB) still arriving, all connections together; over it senders wait.',
    more: 'A sender that would pass it is not read until earlier ones have arrived; the oldest always goes on.',
  },
  {
    option: 'maxBufferedBytes',
    flag: 'max-buffered-bytes',
    value: 'N',
    help: 'Slow consumers: a connection is dropped when the data queued for it passes its largest queued message by more than this.',
    more: 'It is also dropped when queued data has not moved for a whole `heartbeatMs`; the client sees 1006. See [Slow consumers](#slow-consumers). Also caps what a client may send before its connection is set up (authentication, room load): 1008. Stock clients and the SDK send only a few small messages then.',
  },
  { option: 'compactAfterEntries', help: "Compact a room's stored log once it has more entries than this (one entry per tick)." },
  {
    option: 'compactQuietMs',
    help: 'A room whose log has more than half of `compactAfterEntries` entries compacts once no update has been broadcast in it for this long; `0`: only past `compactAfterEntries`.',
    more: 'Compacting encodes the whole document (tens of milliseconds for a long text), and the process serves no other room meanwhile: done in a pause, it does not hold up editing. Past `compactAfterEntries` a room compacts at once, pause or not, which bounds its load time.',
  },
  {
    option: 'authenticate',
    default: 'anonymous',
    help: 'Authentication hook; without one (and without JWT) each connection is its own anonymous principal.',
    more: 'See [Authentication](#authentication). Not together with the JWT options: wrap `jwtAuthenticator` in your hook instead ([JWT](#jwt)).',
  },
  {
    option: 'jwtSecret',
    flag: 'jwt-secret',
    value: 'S',
    default: 'off',
    help: 'Accept JWTs signed with this HS256 secret (HS384, HS512 too) as `?token=`; others are refused with 4401.',
    more: 'The CLI also reads `YROOM_JWT_SECRET` (a flag shows in `ps`). Use at least 32 random bytes. See [JWT](#jwt).',
  },
  {
    option: 'jwtPublicKey',
    flag: 'jwt-public-key',
    value: 'FILE',
    default: 'off',
    help: 'Accept JWTs signed with the private half of this PEM public key (ES256/384/512, RS256/384/512, PS256/384/512 or EdDSA, by the key).',
    more: 'The option takes the PEM text, the flag a file holding it. See [JWT](#jwt).',
  },
  {
    option: 'jwksUrl',
    flag: 'jwks-url',
    value: 'URL',
    default: 'off',
    help: 'Accept JWTs signed with a key of this JSON Web Key Set (fetched on demand, cached); unreachable: 1013.',
    more: 'See [JWT](#jwt).',
  },
  { option: 'jwtIssuer', flag: 'jwt-issuer', value: 'ISS', default: 'any', help: 'With JWT: the `iss` claim must be this.' },
  { option: 'jwtAudience', flag: 'jwt-audience', value: 'AUD', default: 'any', help: 'With JWT: the `aud` claim must contain this.' },
  {
    option: 'tokenRefreshGraceMs',
    flag: 'token-refresh-grace-ms',
    value: 'N',
    help: 'A connection whose token expired is asked for a new one and closed with 4419 unless one arrives within this many ms.',
    more: 'Stock clients cannot be asked: they are closed at expiry. See [Token expiry and refresh](#token-expiry-and-refresh).',
  },
  {
    option: 'apiKey',
    flag: 'api-key',
    value: 'KEY',
    default: 'off',
    help: 'Enable the HTTP API under `/api/v1/`, for requests with `Authorization: Bearer KEY`; without a key it answers 404.',
    more: 'The CLI also reads `YROOM_API_KEY` (a flag shows in `ps`). Use at least 32 random bytes. See [HTTP API](#http-api).',
  },
  {
    option: 'webhooks',
    flag: 'webhook',
    value: 'URL',
    multiple: true,
    default: 'none',
    help: 'POST signed JSON events (rooms loaded and stored, clients joining, rejections, actions) to this URL; repeatable.',
    more: 'Delivered in the background with retries; never blocks a room. See [Webhooks](#webhooks).',
  },
  {
    option: 'webhookSecret',
    flag: 'webhook-secret',
    value: 'S',
    default: 'none',
    help: 'The HMAC-SHA256 secret webhook bodies are signed with (header `X-Yroom-Signature`); required with `--webhook`.',
    more: 'The CLI also reads `YROOM_WEBHOOK_SECRET`. See [verifying a webhook](#verifying-a-webhook).',
  },
  {
    option: 'advertiseUrl',
    flag: 'advertise-url',
    value: 'URL',
    default: '`http://HOSTNAME:PORT`',
    help: 'Cluster mode: the URL other nodes reach this node\'s HTTP API at; they forward writes to rooms this node holds there.',
    more: 'Published with the node\'s heartbeat in Redis. The default uses `host`, or the machine\'s hostname when bound to all interfaces. See [HTTP API](#http-api).',
  },
  { option: 'plugins', default: 'none', help: 'Plugins, in order; `createServer` adds none by itself, `yroom serve` runs `defaultPlugins()`.' },
  { option: '(authority plugin)', flag: 'no-authority', default: 'on in the CLI', help: 'Run without the authority plugin (a plain Yjs relay).' },
  {
    option: '(lifetime plugin)',
    flag: 'reconnect-grace-ms',
    value: 'N',
    default: '`0`',
    help: 'A leave becomes final after this many ms; reconnects of the same principal within it keep ownership.',
  },
  {
    option: 'staticDir',
    flag: 'static',
    value: 'DIR',
    default: 'none',
    help: 'Serve static files from DIR on GET.',
    more: 'Served by `sirv`: ETag and 304 on revalidation, `Cache-Control: no-cache`, and a file\'s precompressed `.br` or `.gz` sibling to clients that accept it (the example builds write them). Never served (404): dotfiles and dot-folders (`.env`, `.git/`; `.well-known/` is), and files a symlink leads to outside DIR. A `Range` other than one `bytes=START-END` gets the whole file. `npm start` passes `--static examples/whiteboard/dist` (the whiteboard at `/`, the editor at `/editor/`).',
  },
  {
    option: '(actions plugin)',
    flag: 'actions',
    value: 'MODULE',
    default: 'none',
    help: 'Enable actions: an ES module exporting `actionSets` and optionally `migrations`.',
    more: "See [actions](sdk.md#actions). `npm start` passes the whiteboard's, `examples/whiteboard/dist/server-actions.mjs`.",
  },
  {
    option: '(inspector plugin)',
    flag: 'inspect',
    default: 'off',
    help: 'Serve the room inspector at `/inspect/` to anyone (development); without it, only with `--api-key` and to requests presenting the key.',
    more: '`npm start` passes it. Read-only. See [inspector.md](inspector.md).',
  },
  {
    option: 'logger',
    flag: 'log-level',
    value: 'LEVEL',
    default: '`info`',
    help: 'Pino log level: `fatal`, `error`, `warn`, `info`, `debug`, `trace` or `silent`.',
    more: 'The option also takes a pino logger; without either, `createServer` logs at `YROOM_LOG_LEVEL`, else `info` (`silent` under tests). See [Logs](#logs).',
  },
  {
    option: 'processMetrics',
    flag: 'no-process-metrics',
    help: "Leave Node's process metrics out of `/metrics` (their event-loop sampler wakes an idle server every 10 ms).",
    more: 'The flag sets the option to `false`. See [Metrics](#metrics).',
  },
]

/** A setting's default as Markdown, from DEFAULTS where it has a plain value; undefined: none to show. */
export function shownDefault(s: Setting): string | undefined {
  if (s.default !== undefined) return s.default
  const value: unknown = (DEFAULTS as Partial<Record<string, number | string | boolean>>)[s.option]
  if (typeof value === 'number' && value >= MiB && value % MiB === 0) return `${value / MiB} MiB`
  return value === undefined ? undefined : `\`${String(value)}\``
}
