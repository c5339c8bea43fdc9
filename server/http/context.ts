/** What the HTTP API's routes use of the server. */
import type { IncomingMessage } from 'node:http'
import type { Logger } from '../logger.js'
import type { Metrics } from '../metrics.js'
import type { YroomPlugin } from '../plugin.js'
import type { Rooms } from '../room/rooms.js'
import type { Storage } from '../storage/storage.js'
import type { Connection } from '../transport/connection.js'

export interface ApiContext {
  /** Undefined: the API is off (every /api/ request answers 404). */
  apiKey: string | undefined
  rooms: Rooms
  storage: Storage
  /** This server's open client connections. */
  connections: ReadonlySet<Connection>
  plugins: readonly YroomPlugin[]
  metrics: Metrics
  logger: Logger
  /** Largest request body. */
  maxBodyBytes: number
  maxNestingDepth: number
  maxDocumentBytes: number
  /** Cluster mode: a room-scoped write is done where the room is loaded (its authority). */
  cluster: boolean
  kick(principalId: string, reason?: string): number
  setReadOnly(principalId: string, readOnly: boolean | null): number
  /** Cluster mode: the HTTP address (`http://host:port`) a node publishes with its heartbeat, or null. */
  nodeUrl?: (node: string) => Promise<string | null>
  /** Cluster mode: the HTTP addresses of the other live nodes. */
  peerUrls?: () => Promise<string[]>
}

/** One request as a route sees it. */
export interface ApiRequest {
  req: IncomingMessage
  url: URL
  /** Path parameters, decoded (`{room}` → `params.room`). */
  params: Record<string, string>
  /** The request body, read up to the limit (empty for GET). */
  body: Buffer
}

export type Handler = (ctx: ApiContext, r: ApiRequest) => Promise<import('./errors.js').ApiResult>
