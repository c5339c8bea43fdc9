/**
 * A client in its own process (for "the client process was killed"): joins the room given
 * on the command line, instantiates an owned ephemeral model, prints "ready", then idles.
 */
import * as Y from 'yjs'
import WebSocket from 'ws'
import { WebsocketProvider } from 'y-websocket'

const [url, room, key] = process.argv.slice(2)
const doc = new Y.Doc()
const provider = new WebsocketProvider(url, room, doc, { WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket, disableBc: true })
provider.once('sync', () => {
  doc.transact(() => {
    const m = new Y.Map<unknown>()
    const meta = new Y.Map<unknown>()
    meta.set('ownerID', doc.clientID)
    meta.set('destroyWhenOwnerOrLastClientLeaves', true)
    m.set('$meta', meta)
    doc.getMap('models').set(key, m)
  })
  // Printed once the server has the model: the next sync step 2 answer proves it.
  setTimeout(() => console.log('ready'), 50)
})
setInterval(() => undefined, 1000)
