/**
 * WebSocket binary frames built by us (RFC 6455 §5.2), so a message sent to many connections
 * is framed once.
 *
 * ws frames every `send` anew: a header allocated per call, the socket corked, header and
 * payload written as two chunks and flushed through the stream's writev path. For a tick's
 * broadcast that work is the same for every receiver. A frame built here is one Buffer,
 * header and payload together, written to each socket as a single chunk. Server frames are
 * never masked (§5.1), so the bytes are the same for every connection.
 *
 * The header writer also serves the benchmark's load generator, whose client frames are
 * masked.
 */

/** Opcode of a binary message (§5.2). */
export const OPCODE_BINARY = 0x2

/** Header length for a payload of `n` bytes: 7-bit, 16-bit or 64-bit extended length. */
export function frameHeaderLength(n: number): number {
  return n < 126 ? 2 : n < 0x10000 ? 4 : 10
}

/**
 * Writes the header of a whole-message frame (FIN set) for an `n`-byte payload at the start
 * of `out` and returns its length. `masked` sets the mask bit of client frames; the 4-byte
 * key after the header is the caller's to write.
 */
export function writeFrameHeader(out: Buffer, opcode: number, n: number, masked: boolean): number {
  const mask = masked ? 0x80 : 0
  out[0] = 0x80 | opcode
  if (n < 126) {
    out[1] = mask | n
  } else if (n < 0x10000) {
    out[1] = mask | 126
    out.writeUInt16BE(n, 2)
  } else {
    out[1] = mask | 127
    // 64-bit length; payloads here stay far below 2^53, so the high word is exact.
    out.writeUInt32BE(Math.floor(n / 0x100000000), 2)
    out.writeUInt32BE(n >>> 0, 6)
  }
  return frameHeaderLength(n)
}

/** One unmasked binary frame holding `payload` (server frames are never masked, §5.1). */
export function binaryFrame(payload: Uint8Array): Buffer {
  const n = payload.byteLength
  const frame = Buffer.allocUnsafe(frameHeaderLength(n) + n)
  frame.set(payload, writeFrameHeader(frame, OPCODE_BINARY, n, false))
  return frame
}
