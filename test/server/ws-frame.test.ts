/**
 * Frames built by server/transport/ws-frame.ts, read back by ws's own Receiver (the decoder every ws
 * client runs): each length encoding, at its boundaries, and several frames in one stream.
 */
import { describe, expect, it } from 'vitest'
import { createRequire } from 'node:module'
import type { Writable } from 'node:stream'
import { binaryFrame, frameHeaderLength, OPCODE_BINARY, writeFrameHeader } from '../../server/transport/ws-frame.js'

// ws's CommonJS entry exports its frame reader and writer (its ESM wrapper and @types/ws
// do not).
interface FrameOptions { fin: boolean; rsv1: boolean; opcode: number; mask: boolean; readOnly: boolean }
const { Receiver, Sender } = createRequire(import.meta.url)('ws') as {
  Receiver: new (options: { isServer: boolean; maxPayload: number }) => Writable
  Sender: { frame(data: Buffer, options: FrameOptions): Buffer[] }
}

function payload(n: number): Uint8Array {
  const p = new Uint8Array(n)
  for (let i = 0; i < n; i++) p[i] = (i * 31 + 7) & 0xff
  return p
}

/** Messages a ws Receiver (client side unless `isServer`) decodes from `chunks`, with their binary flag. */
function decode(chunks: Buffer[], isServer = false): Promise<Array<{ data: Buffer; isBinary: boolean }>> {
  return new Promise((resolve, reject) => {
    const out: Array<{ data: Buffer; isBinary: boolean }> = []
    const receiver = new Receiver({ isServer, maxPayload: 0 })
    receiver.on('message', (data: Buffer, isBinary: boolean) => void out.push({ data, isBinary }))
    receiver.on('error', reject)
    for (const c of chunks) receiver.write(c)
    receiver.end(() => resolve(out))
  })
}

describe('binaryFrame', () => {
  const sizes = [0, 1, 125, 126, 127, 65535, 65536, 70_000]

  it.each(sizes)('a %i-byte payload decodes to the same bytes as one binary message', async (n) => {
    const p = payload(n)
    const frame = binaryFrame(p)
    expect(frame.byteLength).toBe(frameHeaderLength(n) + n)
    const [msg, ...rest] = await decode([frame])
    expect(rest).toEqual([])
    expect(msg.isBinary).toBe(true)
    expect(Buffer.compare(msg.data, Buffer.from(p))).toBe(0)
  })

  it.each(sizes)('a %i-byte payload gets the same header as ws frames it with', (n) => {
    const p = Buffer.from(payload(n))
    const [header] = Sender.frame(p, { fin: true, rsv1: false, opcode: 2, mask: false, readOnly: true })
    expect(binaryFrame(p).subarray(0, frameHeaderLength(n))).toEqual(header)
  })

  it('frames written back to back, split at arbitrary points, decode in order', async () => {
    const messages = [payload(3), payload(200), payload(70_000), payload(0)]
    const stream = Buffer.concat(messages.map((m) => binaryFrame(m)))
    const chunks: Buffer[] = []
    for (let at = 0; at < stream.byteLength; at += 997) chunks.push(stream.subarray(at, at + 997))
    const got = await decode(chunks)
    expect(got.map((m) => m.data.byteLength)).toEqual(messages.map((m) => m.byteLength))
    got.forEach((m, i) => expect(Buffer.compare(m.data, Buffer.from(messages[i]))).toBe(0))
  })

  it.each(sizes)('a masked client frame of %i bytes (zero key) decodes in a server-side Receiver', async (n) => {
    const p = payload(n)
    const out = Buffer.allocUnsafe(frameHeaderLength(n) + 4 + n)
    const at = writeFrameHeader(out, OPCODE_BINARY, n, true)
    out.writeUInt32BE(0, at)
    out.set(p, at + 4)
    const [msg] = await decode([out], true)
    expect(Buffer.compare(msg.data, Buffer.from(p))).toBe(0)
  })

  it('a payload that is a view into a larger buffer is framed from the view only', async () => {
    const backing = payload(300)
    const view = backing.subarray(100, 150)
    const [msg] = await decode([binaryFrame(view)])
    expect(Buffer.compare(msg.data, Buffer.from(view))).toBe(0)
  })
})
