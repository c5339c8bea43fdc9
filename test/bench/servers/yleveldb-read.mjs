// Reads what @y/websocket-server persisted with y-leveldb (YPERSISTENCE) after a crash, and
// prints, per room, the `v` value of every model and every stock writer's value (JSON). Plain JS: y-leveldb ships no types
// for its ESM entry.
import { LeveldbPersistence } from 'y-leveldb'

const { dir, rooms } = JSON.parse(process.argv[2])
const ldb = new LeveldbPersistence(dir)
const out = {}
for (const room of rooms) {
  const doc = await ldb.getYDoc(room)
  const values = {}
  doc.getMap('models').forEach((model, key) => {
    const v = model.get?.('v')
    if (typeof v === 'string') values[key] = v
  })
  // Stock-client load (loadgen/client.ts): `c${id}` keys of the shared root map.
  doc.getMap('shared').forEach((v, key) => {
    if (typeof v === 'string') values[`m${key.slice(1)}`] = v
  })
  out[room] = values
}
await ldb.destroy()
console.log(JSON.stringify(out))
