/** Deterministic room contents for the storage scenarios: owned models and a history of writes to them. */
import * as Y from 'yjs'

/** `models` owned models created by 10 writers, then property writes up to `updates` updates in all. */
export function makeHistory(models: number, updates: number): Uint8Array[] {
  const writers = Array.from({ length: 10 }, (_, i) => {
    const d = new Y.Doc()
    d.clientID = 1001 + i
    return d
  })
  const out: Uint8Array[] = []
  for (const d of writers) d.on('update', (u: Uint8Array) => out.push(u))
  for (let m = 0; m < models; m++) {
    const d = writers[m % writers.length]
    d.transact(() => {
      const model = new Y.Map<unknown>()
      d.getMap('models').set(`m${m}`, model)
      const meta = new Y.Map<unknown>()
      model.set('$meta', meta)
      meta.set('ownerID', d.clientID)
      model.set('name', `model ${m}`)
      model.set('x', m)
      model.set('v', 0)
    })
  }
  for (let k = out.length; k < updates; k++) {
    const m = (k * 7919) % models
    const d = writers[m % writers.length]
    const model = d.getMap('models').get(`m${m}`) as Y.Map<unknown>
    d.transact(() => model.set(k % 3 === 0 ? 'x' : 'v', k))
  }
  for (const d of writers) d.destroy()
  return out
}

/** The merged state of `updates`, as one update. */
export function stateOf(updates: Uint8Array[]): Uint8Array {
  const doc = new Y.Doc()
  doc.transact(() => {
    for (const u of updates) Y.applyUpdate(doc, u)
  })
  const s = Y.encodeStateAsUpdate(doc)
  doc.destroy()
  return s
}
