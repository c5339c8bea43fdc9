/** A minimal Server-Sent Events reader for the inspector's channel tests. */
import { request, type IncomingMessage } from 'node:http'

export interface SseEvent {
  event: string
  data: unknown
}

export interface SseStream {
  status: number
  events: SseEvent[]
  /** Events named `name` so far. */
  of<T = unknown>(name: string): T[]
  close(): void
}

export function openSse(url: string, headers: Record<string, string> = {}): Promise<SseStream> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { accept: 'text/event-stream', ...headers } }, (res: IncomingMessage) => {
      const events: SseEvent[] = []
      let buf = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        buf += chunk
        let end: number
        while ((end = buf.indexOf('\n\n')) !== -1) {
          const block = buf.slice(0, end)
          buf = buf.slice(end + 2)
          let event = 'message'
          let data = ''
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) event = line.slice(7)
            else if (line.startsWith('data: ')) data += line.slice(6)
          }
          if (data) events.push({ event, data: JSON.parse(data) })
        }
      })
      res.on('error', () => {})
      resolve({
        status: res.statusCode ?? 0,
        events,
        of: <T>(name: string) => events.filter((e) => e.event === name).map((e) => e.data as T),
        close: () => req.destroy(),
      })
    })
    req.on('error', reject)
    req.end()
  })
}

/** One plain request: status and body. */
export function fetchText(url: string, init: { method?: string; headers?: Record<string, string>; body?: Uint8Array } = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: init.method ?? 'GET', headers: init.headers }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => (body += c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', reject)
    req.end(init.body)
  })
}
