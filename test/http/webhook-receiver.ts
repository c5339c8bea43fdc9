/** A webhook endpoint on loopback for tests: records each request, answers what `respond` says. */
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { verifySignature, type WebhookEvent } from '../../plugins/webhooks/index.js'

export interface Received {
  event: WebhookEvent
  body: string
  headers: IncomingMessage['headers']
  /** The signature checked against the test's secret. */
  verified: boolean
}

export interface Receiver {
  url: string
  received: Received[]
  /** Requests seen, answered or not. */
  requests: number
  events(type: string): WebhookEvent[]
  close(): Promise<void>
}

/** `respond(n)`: the status for the n-th request (1-based), or null to never answer. */
export async function startReceiver(secret: string, respond: (n: number) => number | null = () => 200): Promise<Receiver> {
  const r: Receiver = {
    url: '',
    received: [],
    requests: 0,
    events: (type) => r.received.filter((x) => x.event.type === type && x.verified).map((x) => x.event),
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve())
      server.closeAllConnections()
    }),
  }
  const server: Server = createServer((req, res) => {
    const n = ++r.requests
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const status = respond(n)
      if (status === null) return // never answers
      const body = Buffer.concat(chunks).toString('utf8')
      const headers = req.headers
      const verified = verifySignature(secret, { signature: headers['x-yroom-signature'] as string, timestamp: headers['x-yroom-timestamp'] as string }, body)
      if (status >= 200 && status < 300) r.received.push({ event: JSON.parse(body) as WebhookEvent, body, headers, verified })
      res.writeHead(status).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  r.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`
  return r
}
