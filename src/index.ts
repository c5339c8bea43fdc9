/** yroom client SDK and shared protocol (`import { ... } from 'yroom'`). */
export * from './layout.js'
export * from './paths.js'
export * from './protocol/message-types.js'
export * from './protocol/close-codes.js'
export * from './protocol/extension.js'
export { readAwarenessEntries, encodeAwarenessEntries, type AwarenessEntry } from './protocol/awareness-ids.js'
export * from './sdk/index.js'
