/**
 * Runnable counter demo: `node --import tsx examples/actions/demo.ts`
 * Starts a server with the actions plugin, then three clients increment one server-owned
 * counter 50 times each, concurrently. The result is exactly +150; the same done with
 * plain CRDT read-modify-write loses increments.
 */
import * as Y from 'yjs'
import WebSocket from 'ws'
import { createServer, defaultPlugins } from '../../server/index.js'
import { actionsPlugin } from '../../plugins/actions/index.js'
import { connect, type WebSocketConstructor } from '../../src/sdk/index.js'
import { counterActions } from './counter.js'

const server = await createServer({
  port: 0,
  host: '127.0.0.1',
  storage: ':memory:',
  logger: 'silent',
  plugins: [...defaultPlugins(), actionsPlugin({ sets: [counterActions] })],
})
const port = await server.listen()

// The backend creates a server-owned counter: clients can change it only through actions.
await server.rooms.edit('demo', (doc) => {
  const counter = new Y.Map<unknown>()
  const meta = new Y.Map<unknown>()
  meta.set('ownerID', 0)
  meta.set('actions', 'counter')
  counter.set('$meta', meta)
  counter.set('value', 0)
  doc.getMap('models').set('counter', counter)
})

const clients = [1, 2, 3].map(() =>
  connect({ url: `ws://127.0.0.1:${port}`, room: 'demo', actions: [counterActions], WebSocket: WebSocket as unknown as WebSocketConstructor }),
)
await Promise.all(clients.map((c) => c.whenSynced()))
const counterOf = (c: (typeof clients)[number]) => c.doc.getMap('models').get('counter') as Y.Map<unknown>

clients[0].updated(counterOf(clients[0]), (snapshot) => {
  if ((snapshot.value as number) % 50 === 0) console.log(`client 1 sees value = ${snapshot.value}`)
})
await Promise.all(clients.flatMap((c) => Array.from({ length: 50 }, () => c.patch(counterOf(c), 'increment', 1))))
// Every call is confirmed; the other clients' effects may still be on their way to this
// client: wait for them (at most 5 s, so a lost increment shows as a wrong value, not a hang).
await new Promise<void>((resolve) => {
  const counter = counterOf(clients[0])
  const timer = setTimeout(done, 5000)
  function done(): void {
    clearTimeout(timer)
    counter.unobserve(check)
    resolve()
  }
  function check(): void {
    if (counter.get('value') === 150) done()
  }
  counter.observe(check)
  check()
})
console.log(`after 3 × 50 concurrent increments: value = ${counterOf(clients[0]).get('value')} (expected 150)`)

for (const c of clients) c.destroy()
await server.close()
