/**
 * The socket a stock Node client uses: the `ws` package's WebSocket with its defaults, as
 * y-websocket's provider and HocuspocusProvider open it under Node. Frames are masked with a
 * random key and permessage-deflate is offered (each server decides whether to accept it),
 * so the servers see exactly what stock clients make them do.
 *
 * Same surface as RawWebSocket (ws-client.ts), so a bench client can use either.
 */
import WebSocket from 'ws'
import type { WsHandlers } from './ws-client.js'

export class StockWebSocket {
  closed = false

  private constructor(private readonly ws: WebSocket) {}

  /** Bytes received on the TCP socket so far (headers included). */
  get bytesIn(): number {
    return (this.ws as unknown as { _socket?: { bytesRead: number } })._socket?.bytesRead ?? 0
  }

  static open(host: string, port: number, path: string, handlers: WsHandlers, timeoutMs = 10_000): Promise<StockWebSocket> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://${host}:${port}${path}`, { handshakeTimeout: timeoutMs })
      ws.binaryType = 'nodebuffer'
      const s = new StockWebSocket(ws)
      let open = false
      ws.on('open', () => {
        open = true
        resolve(s)
      })
      ws.on('message', (data: Buffer, isBinary: boolean) => {
        if (isBinary) handlers.onMessage(data)
      })
      ws.on('error', (err) => {
        if (!open) reject(err)
      })
      ws.on('close', (code, reason) => {
        s.closed = true
        if (open) handlers.onClose(`close ${code} ${reason.toString()}`)
      })
    })
  }

  send(data: Uint8Array): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(data)
  }

  close(): void {
    this.closed = true
    this.ws.close()
  }
}
