/**
 * yroom client SDK (`import { connect, defineModel, prop } from 'yroom'`): what applications
 * use. Protocol encoding and the model tree live in src/shared/, for the SDK and the server.
 */
export * from './sdk/index.js'
// The document layout (SPEC §2), for clients that write models with plain Yjs.
export {
  META_KEY,
  ROOM_MAP,
  ARRAY_ITEMS_KEY,
  OWNER_ID,
  PREVENT_OWNERSHIP_TAKEOVER,
  DESTROY_WHEN_OWNER_LEAVES,
  COLLECTION,
  UNOWNED,
  SERVER_OWNER,
  MAX_ROOM_NAME_LENGTH,
  type CollectionKind,
} from './shared/layout.js'
export { pathOfType, resolvePath } from './shared/paths.js'
export { clientColor, CLIENT_PALETTE, SERVER_COLOR } from './shared/client-color.js'
export { CloseCode, type CloseCodeValue } from './shared/protocol/close-codes.js'
export { PROTOCOL_VERSION, type ModelPath, type RejectedChange, type ErrorNotice, type RestoredRange } from './shared/protocol/extension.js'
