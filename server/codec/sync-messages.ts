/**
 * The y-websocket messages the server composes: sync step 1, updates and awareness.
 * Shared by the join handshake, the tick's fan-out, rollbacks and resync requests.
 */
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import * as syncProtocol from 'y-protocols/sync'
import * as awarenessProtocol from 'y-protocols/awareness'
import { MESSAGE_AWARENESS, MESSAGE_SYNC } from '../../src/shared/protocol/message-types.js'

export function encodeSyncUpdate(update: Uint8Array): Uint8Array {
  const enc = encoding.createEncoder()
  encoding.writeVarUint(enc, MESSAGE_SYNC)
  syncProtocol.writeUpdate(enc, update)
  return encoding.toUint8Array(enc)
}

/**
 * Decodes a state vector a client sent (sync step 1). Throws on malformed bytes, trailing
 * bytes included, so a bad one is refused where it arrives.
 */
export function readStateVector(bytes: Uint8Array): Map<number, number> {
  const d = decoding.createDecoder(bytes)
  const sv = new Map<number, number>()
  const n = decoding.readVarUint(d)
  // Each entry takes at least two bytes: the bound keeps a huge count from looping long.
  if (n * 2 > bytes.length) throw new RangeError(`state vector of ${n} entries cannot fit in ${bytes.length} bytes`)
  for (let i = 0; i < n; i++) sv.set(decoding.readVarUint(d), decoding.readVarUint(d))
  if (decoding.hasContent(d)) throw new RangeError('state vector has trailing bytes')
  return sv
}

/** Sync step 2: what `doc` has beyond the client's state vector. */
export function encodeSyncStep2(doc: Y.Doc, stateVector: Map<number, number>): Uint8Array {
  const enc = encoding.createEncoder()
  encoding.writeVarUint(enc, MESSAGE_SYNC)
  encoding.writeVarUint(enc, syncProtocol.messageYjsSyncStep2)
  encoding.writeVarUint8Array(enc, Y.encodeStateAsUpdate(doc, Y.encodeStateVector(stateVector)))
  return encoding.toUint8Array(enc)
}

/** Sync step 1: the server's state vector, asking the client for what the server lacks. */
export function encodeSyncStep1(doc: Y.Doc): Uint8Array {
  const enc = encoding.createEncoder()
  encoding.writeVarUint(enc, MESSAGE_SYNC)
  syncProtocol.writeSyncStep1(enc, doc)
  return encoding.toUint8Array(enc)
}

/**
 * Awareness of `ids` in messages of at most about `maxBytes` of state each. Stock clients
 * relay every awareness message they receive, whole: one message with every state of a
 * busy room would come back over the message size limit, and the client be closed for it.
 */
export function encodeAwarenessChunks(awareness: awarenessProtocol.Awareness, ids: number[], maxBytes = AWARENESS_CHUNK_BYTES): Uint8Array[] {
  const states = awareness.getStates()
  const out: Uint8Array[] = []
  let chunk: number[] = []
  let bytes = 0
  for (const id of ids) {
    const state = states.get(id)
    const size = state === undefined ? 16 : JSON.stringify(state).length + 16
    if (chunk.length > 0 && bytes + size > maxBytes) {
      out.push(encodeAwareness(awareness, chunk))
      chunk = []
      bytes = 0
    }
    chunk.push(id)
    bytes += size
  }
  // At least one message, if empty: a query is answered even when nobody is there.
  if (chunk.length > 0 || out.length === 0) out.push(encodeAwareness(awareness, chunk))
  return out
}

/** Awareness states per message sent (see encodeAwarenessChunks): well under any message limit. */
export const AWARENESS_CHUNK_BYTES = 32 * 1024

export function encodeAwareness(awareness: awarenessProtocol.Awareness, ids: number[]): Uint8Array {
  const enc = encoding.createEncoder()
  encoding.writeVarUint(enc, MESSAGE_AWARENESS)
  encoding.writeVarUint8Array(enc, awarenessProtocol.encodeAwarenessUpdate(awareness, ids))
  return encoding.toUint8Array(enc)
}
