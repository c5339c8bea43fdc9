/** yroom server: public entry point (`import { createServer } from 'yroom/server'`). */
export { createServer, type YroomServer } from './server.js'
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
} from './plugin.js'
export type { Change, TransactionView } from './changes.js'
export { Room, SERVER_ORIGIN } from './room.js'
export type { Rooms } from './rooms.js'
export type { Connection } from './connection.js'
export type { Storage, StoredDocument } from './storage/storage.js'
export { MemoryStorage } from './storage/memory.js'
export { LevelStorage, openStorage } from './storage/leveldb.js'
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
export { defineActions, ActionRefused, type ActionSet, type ActionSetOptions, type ActionCaller } from '../src/actions/define.js'
