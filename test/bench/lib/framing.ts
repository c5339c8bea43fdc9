/**
 * The two wire dialects of the servers under test. y-websocket (yroom, @y/websocket-server):
 * `[type][...]`, one document per socket chosen by the URL path. Hocuspocus: every message is
 * prefixed with the document name (`[varString name][type][...]`) and the first message must
 * be an auth message (`[name][2 = auth][0 = token][varString token]`).
 */
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import { MESSAGE_AUTH, MESSAGE_AWARENESS, MESSAGE_SYNC } from '../../../src/shared/protocol/message-types.js'

export type Flavor = 'y-websocket' | 'hocuspocus'

const HOCUSPOCUS_SYNC_REPLY = 4
export const SYNC_STEP1 = 0
export const SYNC_STEP2 = 1
export const SYNC_UPDATE = 2

export interface Parsed {
  /** SYNC_STEP1 / SYNC_STEP2 / SYNC_UPDATE for sync messages, -1 for anything else. */
  sync: number
  /** Offset of the sync body (a varUint8Array) in the payload. */
  body: number
}

export class Framing {
  private readonly prefix: Uint8Array

  constructor(
    readonly flavor: Flavor,
    readonly docName: string,
  ) {
    const enc = encoding.createEncoder()
    if (flavor === 'hocuspocus') encoding.writeVarString(enc, docName)
    this.prefix = encoding.toUint8Array(enc)
  }

  /** URL path to connect to. Hocuspocus multiplexes documents, so any path works. */
  get path(): string {
    return this.flavor === 'hocuspocus' ? '/' : `/${encodeURIComponent(this.docName)}`
  }

  private start(): encoding.Encoder {
    const enc = encoding.createEncoder()
    encoding.writeUint8Array(enc, this.prefix)
    return enc
  }

  /** Messages to send right after the socket opens. */
  hello(stateVector: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = []
    if (this.flavor === 'hocuspocus') {
      const auth = this.start()
      encoding.writeVarUint(auth, MESSAGE_AUTH)
      encoding.writeVarUint(auth, 0)
      encoding.writeVarString(auth, 'bench-token')
      out.push(encoding.toUint8Array(auth))
    }
    const step1 = this.start()
    encoding.writeVarUint(step1, MESSAGE_SYNC)
    encoding.writeVarUint(step1, SYNC_STEP1)
    encoding.writeVarUint8Array(step1, stateVector)
    out.push(encoding.toUint8Array(step1))
    return out
  }

  update(update: Uint8Array): Uint8Array {
    return this.sync(SYNC_UPDATE, update)
  }

  step2(update: Uint8Array): Uint8Array {
    return this.sync(SYNC_STEP2, update)
  }

  private sync(type: number, body: Uint8Array): Uint8Array {
    const enc = this.start()
    encoding.writeVarUint(enc, MESSAGE_SYNC)
    encoding.writeVarUint(enc, type)
    encoding.writeVarUint8Array(enc, body)
    return encoding.toUint8Array(enc)
  }

  /** An awareness update with one client's state (JSON), clock 1, as a provider sends on open. */
  awareness(clientID: number, state: string): Uint8Array {
    const update = encoding.createEncoder()
    encoding.writeVarUint(update, 1)
    encoding.writeVarUint(update, clientID)
    encoding.writeVarUint(update, 1)
    encoding.writeVarString(update, state)
    const enc = this.start()
    encoding.writeVarUint(enc, MESSAGE_AWARENESS)
    encoding.writeVarUint8Array(enc, encoding.toUint8Array(update))
    return encoding.toUint8Array(enc)
  }

  /** Classifies a received message by its first bytes (no Yjs decoding). */
  parse(payload: Uint8Array): Parsed {
    let pos = 0
    if (this.flavor === 'hocuspocus') {
      const dec = decoding.createDecoder(payload)
      const n = decoding.readVarUint(dec)
      pos = dec.pos + n
    }
    const type = payload[pos]
    if ((type !== MESSAGE_SYNC && type !== HOCUSPOCUS_SYNC_REPLY) || pos + 1 >= payload.length) return { sync: -1, body: 0 }
    return { sync: payload[pos + 1], body: pos + 2 }
  }

  /** The update bytes of a sync step 2 / update message (a copy-free view). */
  body(payload: Uint8Array, at: number): Uint8Array {
    const dec = decoding.createDecoder(payload)
    dec.pos = at
    return decoding.readVarUint8Array(dec)
  }
}
