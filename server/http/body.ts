/** Request bodies of the HTTP API, read up to a size limit (413 beyond it). */
import type { IncomingMessage } from 'node:http'
import { ApiError } from './errors.js'

export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'])
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit)
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.byteLength
    if (size > limit) throw tooLarge(limit)
    chunks.push(chunk)
  }
  return Buffer.concat(chunks)
}

function tooLarge(limit: number): ApiError {
  // The rest of the body is not read: the connection closes after the answer.
  return new ApiError(413, 'payload-too-large', `request body over the limit of ${limit} bytes`, { connection: 'close' })
}

/** A JSON object body; 400 when it is not one. An empty body is `{}`. */
export function jsonObject(raw: Buffer): Record<string, unknown> {
  if (raw.byteLength === 0) return {}
  let value: unknown
  try {
    value = JSON.parse(raw.toString('utf8'))
  } catch (err) {
    throw new ApiError(400, 'bad-request', `body is not valid JSON: ${(err as Error).message}`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ApiError(400, 'bad-request', 'body must be a JSON object')
  return value as Record<string, unknown>
}
