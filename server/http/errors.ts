/** The HTTP API's answers: JSON bodies, and errors as `{ "error": { "code", "message" } }`. */
import type { ServerResponse } from 'node:http'

/** Thrown by a route: answered with `status` and the JSON error body. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message)
    this.name = 'ApiError'
  }
}

/** What a route answers: JSON, raw bytes, or nothing (204). */
export type ApiResult = ({ status?: number; json: unknown } | { status?: number; bytes: Uint8Array; contentType: string } | { status: 204 }) & { headers?: Record<string, string> }

export function sendResult(res: ServerResponse, result: ApiResult): number {
  const status = result.status ?? 200
  const headers = { ...result.headers, 'cache-control': 'no-store' }
  if ('json' in result) {
    const body = JSON.stringify(result.json)
    res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body)
  } else if ('bytes' in result) {
    res.writeHead(status, { ...headers, 'content-type': result.contentType, 'content-length': result.bytes.byteLength }).end(result.bytes)
  } else {
    res.writeHead(204).end()
  }
  return status
}

export function sendError(res: ServerResponse, err: ApiError): number {
  if (res.headersSent) {
    res.destroy()
    return err.status
  }
  const body = JSON.stringify({ error: { code: err.code, message: err.message } })
  res.writeHead(err.status, { ...err.headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body)
  return err.status
}
