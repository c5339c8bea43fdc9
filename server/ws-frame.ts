/**
 * WebSocket binary frames built by us (RFC 6455 §5.2), so a message sent to many connections
 * is framed once.
 *
 * ws frames every `send` anew: a header allocated per call, the socket corked, header and
 * payload written as two chunks and flushed through the stream's writev path. For a tick's
 * broadcast that work is the same for every receiver. A frame built here is one Buffer,
 * header and payload together, written to each socket as a single chunk. Server frames are
 * never masked (§5.1), so the bytes are the same for every connection.
 */

/** FIN bit set, opcode 2 (binary): a whole binary message in one frame. */
const FIN_BINARY = 0x82

/** Header length for a payload of `n` bytes: 7-bit, 16-bit or 64-bit extended length. */
export function frameHeaderLength(n: number): number {
  return n < 126 ? 2 : n < 0x10000 ? 4 : 10
}

/** One unmasked binary frame holding `payload`. */
export function binaryFrame(payload: Uint8Array): Buffer {
  const n = payload.byteLength
  const offset = frameHeaderLength(n)
  const frame = Buffer.allocUnsafe(offset + n)
  frame[0] = FIN_BINARY
  if (n < 126) {
    frame[1] = n
  } else if (n < 0x10000) {
    frame[1] = 126
    frame.writeUInt16BE(n, 2)
  } else {
    frame[1] = 127
    // 64-bit length; payloads here stay far below 2^53, so the high word is exact.
    frame.writeUInt32BE(Math.floor(n / 0x100000000), 2)
    frame.writeUInt32BE(n >>> 0, 6)
  }
  frame.set(payload, offset)
  return frame
}
