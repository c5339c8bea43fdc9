/**
 * A minimal WebSocket client (RFC 6455) over a plain TCP socket, for the load generator only.
 *
 * Why not `ws`: at the standard load a relay that sends one frame per write delivers ~200k
 * frames/s to the generator, and `ws` costs a stream write, a Buffer copy and an event per
 * frame. Here a TCP chunk is cut into frames in place and each payload is handed over as a
 * zero-copy view, so the generator stays far cheaper than the servers it measures.
 * Client frames are masked with the all-zero key (legal per RFC 6455 §5.3), so sending is
 * one header plus the payload, no XOR pass. No extensions (no permessage-deflate) are offered.
 */
import { connect, type Socket } from 'node:net'
import { createHash, randomBytes } from 'node:crypto'
import { frameHeaderLength, writeFrameHeader } from '../../../server/transport/ws-frame.js'

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'
const OP_CONT = 0x0
const OP_BINARY = 0x2
const OP_TEXT = 0x1
const OP_CLOSE = 0x8
const OP_PING = 0x9

export interface WsHandlers {
  /** A complete binary message. `payload` is only valid during the call. */
  onMessage(payload: Buffer): void
  onClose(reason: string): void
}

export class RawWebSocket {
  private pending: Buffer | null = null
  private fragments: Buffer[] = []
  closed = false

  private constructor(
    private socket: Socket,
    private handlers: WsHandlers,
  ) {}

  /** Bytes received on the TCP socket so far (headers included). */
  get bytesIn(): number {
    return this.socket.bytesRead
  }

  get bytesOut(): number {
    return this.socket.bytesWritten
  }

  static open(host: string, port: number, path: string, handlers: WsHandlers, timeoutMs = 10_000): Promise<RawWebSocket> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port, noDelay: true })
      const key = randomBytes(16).toString('base64')
      const expected = createHash('sha1').update(key + GUID).digest('base64')
      let head = Buffer.alloc(0)
      const timer = setTimeout(() => fail(new Error(`handshake timeout ${host}:${port}${path}`)), timeoutMs)
      const fail = (err: Error) => {
        clearTimeout(timer)
        socket.destroy()
        reject(err)
      }
      const onHandshakeData = (chunk: Buffer) => {
        head = Buffer.concat([head, chunk])
        const end = head.indexOf('\r\n\r\n')
        if (end === -1) return
        socket.off('data', onHandshakeData)
        socket.off('error', fail)
        clearTimeout(timer)
        const text = head.subarray(0, end).toString('latin1')
        if (!/^HTTP\/1\.1 101/.test(text) || !text.includes(expected)) {
          fail(new Error(`websocket upgrade refused: ${text.split('\r\n')[0]}`))
          return
        }
        const ws = new RawWebSocket(socket, handlers)
        socket.on('data', (c: Buffer) => ws.onData(c))
        socket.on('error', (e) => ws.finish(`socket error: ${e.message}`))
        socket.on('close', () => ws.finish('socket closed'))
        resolve(ws)
        const rest = head.subarray(end + 4)
        if (rest.length > 0) ws.onData(rest)
      }
      socket.on('data', onHandshakeData)
      socket.on('error', fail)
      socket.once('connect', () => {
        socket.write(
          `GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
        )
      })
    })
  }

  /** Sends one binary message. */
  send(payload: Uint8Array): void {
    if (this.closed) return
    this.socket.write(frame(OP_BINARY, payload))
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    this.socket.destroy()
  }

  private finish(reason: string): void {
    if (this.closed) return
    this.closed = true
    this.socket.destroy()
    this.handlers.onClose(reason)
  }

  private onData(chunk: Buffer): void {
    const buf = this.pending === null ? chunk : Buffer.concat([this.pending, chunk])
    this.pending = null
    let pos = 0
    while (!this.closed) {
      if (buf.length - pos < 2) break
      const b0 = buf[pos]
      const b1 = buf[pos + 1]
      const masked = (b1 & 0x80) !== 0
      let len = b1 & 0x7f
      let hdr = 2
      if (len === 126) {
        if (buf.length - pos < 4) break
        len = buf.readUInt16BE(pos + 2)
        hdr = 4
      } else if (len === 127) {
        if (buf.length - pos < 10) break
        len = buf.readUInt32BE(pos + 2) * 2 ** 32 + buf.readUInt32BE(pos + 6)
        hdr = 10
      }
      const maskAt = pos + hdr
      if (masked) hdr += 4
      if (buf.length - pos < hdr + len) break
      const payload = buf.subarray(pos + hdr, pos + hdr + len)
      if (masked) for (let i = 0; i < payload.length; i++) payload[i] ^= buf[maskAt + (i & 3)]
      pos += hdr + len
      this.onFrame(b0 & 0x80 ? true : false, b0 & 0x0f, payload)
    }
    if (pos < buf.length && !this.closed) this.pending = Buffer.from(buf.subarray(pos))
  }

  private onFrame(fin: boolean, op: number, payload: Buffer): void {
    switch (op) {
      case OP_BINARY:
      case OP_TEXT:
      case OP_CONT:
        if (!fin) {
          this.fragments.push(Buffer.from(payload))
          return
        }
        if (this.fragments.length > 0) {
          this.fragments.push(payload)
          const whole = Buffer.concat(this.fragments)
          this.fragments = []
          this.handlers.onMessage(whole)
        } else {
          this.handlers.onMessage(payload)
        }
        return
      case OP_PING:
        this.socket.write(frame(0xa, payload))
        return
      case OP_CLOSE: {
        const code = payload.length >= 2 ? payload.readUInt16BE(0) : 1005
        const reason = payload.length > 2 ? payload.subarray(2).toString('utf8') : ''
        if (!this.closed) this.socket.write(frame(OP_CLOSE, payload.subarray(0, 2)))
        this.finish(`closed by server: ${code} ${reason}`)
        return
      }
      default:
        return // pong and reserved opcodes: nothing to do
    }
  }
}

/** A client frame: FIN set, masked with the zero key, payload unchanged. */
function frame(op: number, payload: Uint8Array): Buffer {
  const n = payload.length
  const out = Buffer.allocUnsafe(frameHeaderLength(n) + 4 + n)
  const hdr = writeFrameHeader(out, op, n, true)
  out.writeUInt32BE(0, hdr)
  out.set(payload, hdr + 4)
  return out
}
