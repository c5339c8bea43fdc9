/**
 * The forwarding floor: a reference, not a Yjs server. It carries the benchmark's traffic the
 * way yroom does — ws for receiving, one binary frame per client per 50 ms tick written to the
 * upgraded socket — but keeps no document: a tick's frame is the tick's update bodies laid
 * end to end (not a valid Yjs update; the load generator only scans frames for its markers),
 * with no checks, no judging and no storage. What it costs is what Node, ws and loopback TCP
 * cost for this traffic; what yroom costs above it is its document work.
 */
import { createServer } from 'node:http'
import { WebSocketServer } from 'ws'
import * as Y from 'yjs'
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import * as syncProtocol from 'y-protocols/sync'
import { MESSAGE_SYNC } from '../../../dist/src/shared/protocol/message-types.js'
import { encodeSyncUpdate } from '../../../dist/server/codec/sync-messages.js'
import { binaryFrame } from '../../../dist/server/transport/ws-frame.js'

const TICK_MS = 50
/** Sync step 2 from an empty document: the answer to every client's sync step 1. */
const EMPTY_STEP2 = (() => {
  const enc = encoding.createEncoder()
  encoding.writeVarUint(enc, MESSAGE_SYNC)
  syncProtocol.writeSyncStep2(enc, new Y.Doc())
  return encoding.toUint8Array(enc)
})()

/** @type {Map<string, { conns: Set<import('node:stream').Duplex>, bodies: Uint8Array[], bytes: number, timer: NodeJS.Timeout | null }>} */
const rooms = new Map()

function tick(room) {
  room.timer = null
  const bodies = new Uint8Array(room.bytes)
  let at = 0
  for (const b of room.bodies) {
    bodies.set(b, at)
    at += b.byteLength
  }
  room.bodies = []
  room.bytes = 0
  const frame = binaryFrame(encodeSyncUpdate(bodies))
  for (const stream of room.conns) if (stream.writable) stream.write(frame)
}

const http = createServer((_, res) => res.writeHead(404).end())
const wss = new WebSocketServer({ noServer: true })
http.on('upgrade', (req, socket, head) => {
  wss.handleUpgrade(req, socket, head, (ws) => {
    let room = rooms.get(req.url)
    if (!room) rooms.set(req.url, (room = { conns: new Set(), bodies: [], bytes: 0, timer: null }))
    room.conns.add(socket)
    ws.on('close', () => room.conns.delete(socket))
    ws.on('error', () => ws.terminate())
    ws.on('message', (data) => {
      try {
        const dec = decoding.createDecoder(data)
        if (decoding.readVarUint(dec) !== MESSAGE_SYNC) return
        const type = decoding.readVarUint(dec)
        if (type === syncProtocol.messageYjsSyncStep1) return ws.send(EMPTY_STEP2)
        if (type !== syncProtocol.messageYjsSyncStep2 && type !== syncProtocol.messageYjsUpdate) return
        const body = decoding.readVarUint8Array(dec)
        room.bodies.push(body)
        room.bytes += body.byteLength
        room.timer ??= setTimeout(tick, TICK_MS, room)
      } catch {
        ws.terminate()
      }
    })
  })
})
http.listen(0, '127.0.0.1', () => console.log(`forwarding floor listening on port ${http.address().port}`))
