/**
 * Three replicas of one room on a server with the authority plugin: the owner, an offender
 * and an observer (stock y-websocket clients). The observer records every value it ever
 * sees so a test can assert it never observed a rejected state.
 */
import * as Y from 'yjs'
import { authorityPlugin } from '../../plugins/authority/index.js'
import type { ServerOptions } from '../../server/index.js'
import { connectProvider, startServer, until, type ProviderClient, type TestServer } from '../helpers.js'

export interface Trio {
  s: TestServer
  owner: ProviderClient
  offender: ProviderClient
  observer: ProviderClient
  /** JSON snapshots of the observer's `models` map after each of its transactions. */
  seen: string[]
  room: string
  serverDoc(): Y.Doc
  /** Every replica: the three clients' docs and the server's. */
  replicas(): Y.Doc[]
  /** Waits until every replica has exactly the server's state. */
  converge(): Promise<void>
  close(): Promise<void>
}

let counter = 0

/** JSON with object keys sorted: a Y.Map lists keys in the order its replica integrated them. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  )
}

/** Client ids to give the replicas (Yjs breaks ties between concurrent writes by client id). */
export interface TrioIds {
  owner?: number
  offender?: number
}

export async function trio(options: ServerOptions = {}, ids: TrioIds = {}): Promise<Trio> {
  const s = await startServer({ plugins: [authorityPlugin()], tickMs: 10, ...options })
  const room = `trio-${++counter}`
  const docWithId = (id?: number) => {
    const d = new Y.Doc()
    if (id !== undefined) d.clientID = id
    return d
  }
  const owner = await connectProvider(s.url, room, { doc: docWithId(ids.owner) })
  const offender = await connectProvider(s.url, room, { doc: docWithId(ids.offender) })
  const observer = await connectProvider(s.url, room)
  const seen: string[] = []
  observer.doc.on('afterTransaction', () => seen.push(JSON.stringify(observer.doc.getMap('models').toJSON())))
  const serverDoc = () => s.server.rooms.get(room)!.doc
  const sv = (d: Y.Doc) => Buffer.from(Y.encodeStateVector(d)).toString('hex')
  const json = (d: Y.Doc) => canonicalJson(d.getMap('models').toJSON())
  return {
    s,
    owner,
    offender,
    observer,
    seen,
    room,
    serverDoc,
    replicas: () => [owner.doc, offender.doc, observer.doc, serverDoc()],
    async converge() {
      await until(
        () => {
          const doc = serverDoc()
          return [owner, offender, observer].every((c) => sv(c.doc) === sv(doc) && json(c.doc) === json(doc))
        },
        { message: 'replicas to converge on the server state' },
      )
    },
    async close() {
      owner.destroy()
      offender.destroy()
      observer.destroy()
      await s.close()
    },
  }
}

/** Creates `models[key]` owned by `doc`'s client (or unowned with ownerID -1). */
export function createModel(
  doc: Y.Doc,
  key: string,
  props: Record<string, unknown> = {},
  meta: Record<string, unknown> = { ownerID: doc.clientID },
): Y.Map<unknown> {
  const m = new Y.Map<unknown>()
  doc.transact(() => {
    const metaMap = new Y.Map<unknown>()
    for (const [k, v] of Object.entries(meta)) metaMap.set(k, v)
    m.set('$meta', metaMap)
    for (const [k, v] of Object.entries(props)) m.set(k, v)
    doc.getMap('models').set(key, m)
  })
  return m
}

export function model(doc: Y.Doc, key: string): Y.Map<unknown> {
  return doc.getMap('models').get(key) as Y.Map<unknown>
}

export function meta(doc: Y.Doc, key: string): Y.Map<unknown> {
  return model(doc, key).get('$meta') as Y.Map<unknown>
}
