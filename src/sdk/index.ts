/** The yroom client SDK (§9): `import { connect, defineModel, prop } from 'yroom'`. */
export { connect, Room, type ConnectOptions, type RoomEvents, type OfflineOptions, type PersistenceConstructor } from './room.js'
export { Datastore, type InstantiateOptions, MODEL_TYPE_FIELD, ROOT_MAP, INSTANCES_MAP } from './datastore.js'
export { defineModel } from './model.js'
export {
  prop,
  type Prop,
  type Fields,
  type ModelType,
  type Instance,
  type InstanceOf,
  type Init,
  type InitOf,
  type Json,
  type ValueProp,
  type TextProp,
  type ModelProp,
  type CollectionProp,
} from './schema.js'
export {
  RealtimeModel,
  type ChangeSource,
  type PropertyChange,
  type ModelChange,
  type OwnerChange,
  type ModelEvents,
} from './base.js'
export { RealtimeSet, type SetEvents, type SetElementEvent } from './collections/set.js'
export {
  RealtimeDictionary,
  type DictionaryEvents,
  type DictionaryElementEvent,
  type DictionaryReplaceEvent,
} from './collections/dictionary.js'
export { RealtimeArray, type ArrayEvents, type ArrayElementEvent } from './collections/array.js'
export { applyRestored } from './restored.js'
export { StringKeyDictionary } from './collections/string-key-dictionary.js'
export {
  RequestInterruptedError,
  backoffDelay,
  type TokenSource,
  type ConnectionStatus,
  type StatusEvent,
  type WebSocketConstructor,
  type WebSocketLike,
} from './transport.js'
export { ActionClient, type ActionChannel, type ActionTarget, type Snapshot } from './actions.js'
export { defineActions, ActionRefused, runAction, type ActionSet, type ActionFn, type ActionSetOptions, type ActionCaller, type StandardSchema } from '../shared/actions/define.js'
export { plainOf, deepFreeze, type JsonValue, type JsonObject } from '../shared/actions/snapshot.js'
export { YjsCopyError, otherYjsCopies } from '../shared/yjs-copies.js'
