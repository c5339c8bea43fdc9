/** yroom server: public entry point (`import { createServer } from 'yroom/server'`). */
import { createServer as createServerCore, type YroomServer } from './server.js'
import type { ServerOptions } from './options.js'
import { warnYjsCopies } from '../src/shared/yjs-copies.js'

export type { YroomServer }
export { YjsCopyError, otherYjsCopies } from '../src/shared/yjs-copies.js'

/**
 * Creates a server (see server.ts). Logs an error when another copy of Yjs is loaded in the
 * process: its Y.Doc / Y.Map objects do not work with the server's (src/shared/yjs-copies.ts).
 */
export async function createServer(options: ServerOptions = {}): Promise<YroomServer> {
  const server = await createServerCore(options)
  warnYjsCopies((message) => server.logger.error(message))
  return server
}
export type { ServerOptions } from './options.js'
export {
  Refusal,
  SERVER_PRINCIPAL,
  type Principal,
  type YroomPlugin,
  type AuthenticateHook,
  type AuthenticateContext,
  type BeforeUpdateContext,
  type UpdateContext,
  type AfterApplyContext,
  type ConnectionContext,
  type RequestContext,
  type RequestHandler,
  type RoomHandle,
  type RoomLimits,
  type RoomMetadata,
  type RoomServices,
  type IdentityService,
} from './plugin.js'
export type { Change, TransactionView } from './room/transaction-view.js'
export { metaBefore, type MetaBefore } from './room/meta-before.js'
export { SERVER_ORIGIN } from './room/room.js'
export type { Rooms } from './room/rooms.js'
export type { Connection } from './transport/connection.js'
export { LeaseLost, RoomLeased, type Storage, type StoredDocument, type UpdateEncoding } from './storage/storage.js'
export { MemoryStorage } from './storage/memory.js'
export { LevelStorage } from './storage/leveldb.js'
export { openStorage } from './storage/open.js'
export { PostgresStorage, type PostgresStorageOptions } from './storage/postgres.js'
export { StorageDamaged } from './storage/integrity.js'
export { Metrics } from './metrics.js'
export { defaultPlugins, type DefaultPluginOptions } from '../plugins/index.js'
export {
  actionsPlugin,
  ACTION_METHOD,
  ACTIONS_META_KEY,
  appliedMigrations,
  type ActionsPlugin,
  type ActionsPluginOptions,
  type ActionRequest,
  type ActionOutcome,
  type Migration,
} from '../plugins/actions/index.js'
export { defineActions, ActionRefused, type ActionSet, type ActionSetOptions, type ActionCaller } from '../src/shared/actions/define.js'
