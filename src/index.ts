/** yroom client SDK and shared protocol (`import { ... } from 'yroom'`). */
export * from './shared/layout.js'
export * from './shared/paths.js'
export * from './shared/protocol/message-types.js'
export * from './shared/protocol/close-codes.js'
export * from './shared/protocol/extension.js'
export { readAwarenessEntries, encodeAwarenessEntries, type AwarenessEntry } from './shared/protocol/awareness-ids.js'
export * from './sdk/index.js'
