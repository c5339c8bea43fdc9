/**
 * Honest clients (stock y-websocket providers) that own models, and the oracle over them:
 * an owned model only ever holds values its owner wrote (checked after every transaction of
 * every honest replica), equals its owner's record of what it wrote once the room is quiet,
 * and every replica, a fresh late joiner included, converges (SPEC §4, §12).
 */
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import WebSocket from 'ws'
import type { ProviderClient } from '../helpers.js'
import { chance, int, pick, type Rng } from './gen.js'

export const TEXT_ALPHABET = 'abcdefghij'

/** JSON with sorted object keys: a Y.Map lists keys in the order its replica integrated them. */
export function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    typeof x === 'bigint'
      ? `${x}n`
      : x !== null && typeof x === 'object' && !Array.isArray(x) && !(x instanceof Uint8Array)
      ? Object.fromEntries(Object.entries(x as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : x,
  )
}

/** A model an honest client owns, and everything its owner ever wrote into it. */
export class OwnedRecord {
  /** The model's content as its owner last wrote it ($meta apart). */
  readonly mirror: Record<string, unknown> = {}
  /** Every primitive the owner ever wrote into it (any observed value must be one of them). */
  readonly values = new Set<unknown>()
  /** Keys the owner ever set on the model itself. */
  readonly keys = new Set<string>(['$meta'])
  /** When its owner last wrote into it (Date.now()). */
  lastWriteAt = 0

  constructor(
    readonly owner: HonestClient,
    /** Where it lives, for messages: `models/h0`, `models/box0/inner`, `models/arr0[*]`. */
    readonly path: string,
    /** Finds it in a replica: every candidate (more than one is a violation). */
    readonly locate: (doc: Y.Doc, ownerMayBeCleared?: boolean) => Array<Y.Map<unknown>>,
  ) {}

  /** Checks one replica's current state; returns what is wrong (empty when fine). */
  check(doc: Y.Doc, mustExist: boolean): string[] {
    const found = this.locate(doc)
    if (found.length === 0) return mustExist ? [`${this.path} (owned by ${this.owner.id}) is gone`] : []
    if (found.length > 1) return [`${this.path}: ${found.length} models claim owner ${this.owner.id}`]
    const json = found[0].toJSON() as Record<string, unknown>
    const out: string[] = []
    const meta = canonical(json.$meta)
    const expected = canonical({ ownerID: this.owner.id, preventOwnershipTakeover: true })
    if (meta !== expected) out.push(`${this.path}: $meta is ${meta}, expected ${expected}`)
    for (const [k, v] of Object.entries(json)) {
      if (k === '$meta') continue
      if (!this.keys.has(k)) {
        out.push(`${this.path}: key ${JSON.stringify(k)} = ${short(v)} never written by the owner`)
        continue
      }
      if (k === 'text') {
        if (typeof v !== 'string' || !/^[a-j]*$/.test(v)) out.push(`${this.path}/text holds ${short(v)}, not only the owner's letters`)
        const t = found[0].get('text')
        // Formatting and embeds do not show in toJSON: the owner writes neither.
        if (t instanceof Y.Text && t.toDelta().some((op: { insert?: unknown; attributes?: unknown }) => op.attributes !== undefined || typeof op.insert !== 'string')) {
          out.push(`${this.path}/text has formatting or embeds: ${short(t.toDelta())}`)
        }
        continue
      }
      for (const leaf of leaves(v)) if (!this.values.has(leaf)) out.push(`${this.path}/${k} holds ${short(leaf)} (in ${short(v)}), never written by the owner`)
    }
    return out
  }

  /**
   * Takes the model as `doc` holds it as what the owner wrote (after a reported loss of the
   * owner's writes, so that later checks look for new problems, not the same one again).
   */
  rebase(doc: Y.Doc): void {
    const found = this.locate(doc)
    if (found.length !== 1) return
    const { $meta: _meta, ...rest } = found[0].toJSON() as Record<string, unknown>
    for (const k of Object.keys(this.mirror)) delete this.mirror[k]
    Object.assign(this.mirror, JSON.parse(JSON.stringify(rest)))
    for (const [k, v] of Object.entries(rest)) {
      this.keys.add(k)
      if (k !== 'text') for (const leaf of leaves(v)) this.values.add(leaf)
    }
  }

  /** Checks a quiet replica against the owner's record; `ownerMayBeCleared` after a clean restart. */
  checkExact(doc: Y.Doc, ownerMayBeCleared = false): string[] {
    const found = this.locate(doc, ownerMayBeCleared)
    if (found.length !== 1) return [`${this.path}: ${found.length} models found, expected 1`]
    const json = found[0].toJSON() as Record<string, unknown>
    const { $meta, ...rest } = json
    const out: string[] = []
    const meta = $meta as Record<string, unknown> | undefined
    const ownerOk = meta?.ownerID === this.owner.id || (ownerMayBeCleared && meta?.ownerID === -1)
    if (!ownerOk || meta?.preventOwnershipTakeover !== true) out.push(`${this.path}: $meta is ${canonical(meta)}`)
    const got = canonical(rest)
    const want = canonical(this.mirror)
    if (got !== want) out.push(`${this.path}: holds ${short(got, 600)}, its owner wrote ${short(want, 600)}`)
    return out
  }
}

function short(v: unknown, max = 160): string {
  let s: string
  try {
    s = typeof v === 'string' ? JSON.stringify(v) : (canonical(v) ?? String(v))
  } catch {
    s = String(v)
  }
  return s.length > max ? `${s.slice(0, max)}…(${s.length})` : s
}

function leaves(v: unknown): unknown[] {
  if (Array.isArray(v)) return v.flatMap(leaves)
  if (v !== null && typeof v === 'object' && !(v instanceof Uint8Array)) return Object.values(v).flatMap(leaves)
  return [v]
}

/** One stock y-websocket client of the fuzzer, owning some models of its room. */
export class HonestClient {
  client!: ProviderClient
  readonly records: OwnedRecord[] = []
  /** Unexpected closes of its connection (code and reason). */
  readonly closes: string[] = []
  /** Set while the fuzzer itself disconnects it. */
  leaving = false
  /** The last messages the server sent it (newest last), for a finding's report. */
  readonly received: Uint8Array[] = []
  /** The last messages it sent. */
  readonly sent: Uint8Array[] = []
  private counter = 0

  constructor(
    readonly name: string,
    readonly id: number,
    readonly room: string,
  ) {}

  get doc(): Y.Doc {
    return this.client.doc
  }

  async connect(url: string): Promise<void> {
    const doc = new Y.Doc()
    doc.clientID = this.id
    const provider = new WebsocketProvider(url, this.room, doc, { WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket, disableBc: true })
    // Record what the server sends, before the provider applies it (listeners run in order).
    provider.on('status', ({ status }: { status: string }) => {
      if (status !== 'connected' || !provider.ws) return
      const ws = provider.ws as unknown as WebSocket
      ws.prependListener('message', (data: Buffer) => {
        this.received.push(new Uint8Array(data))
        if (this.received.length > 6) this.received.shift()
      })
      // And what it sends (a finding may be about an honest message the server refused).
      const send = ws.send.bind(ws) as (data: unknown, ...rest: unknown[]) => void
      ws.send = ((data: unknown, ...rest: unknown[]) => {
        if (data instanceof Uint8Array || data instanceof ArrayBuffer) {
          this.sent.push(new Uint8Array(data as ArrayBuffer))
          if (this.sent.length > 4) this.sent.shift()
        }
        send(data, ...rest)
      }) as typeof ws.send
    })
    await new Promise<void>((resolve) => provider.once('sync', () => resolve()))
    this.client = {
      doc,
      provider,
      destroy() {
        provider.destroy()
        doc.destroy()
      },
    }
    this.client.provider.on('connection-close', (event) => {
      if (!this.leaving) this.closes.push(event ? `code ${event.code} ${JSON.stringify(event.reason)}` : 'closed locally (no message for 30 s)')
    })
  }

  /** Creates its models: `models/<name>` and, for the first client of a room, models inside unowned containers. */
  createModels(withContainers: boolean): void {
    const models = this.doc.getMap<unknown>('models')
    const top = new OwnedRecord(this, `models/${this.name}`, (d) => {
      const m = d.getMap<unknown>('models').get(this.name)
      return m instanceof Y.Map ? [m as Y.Map<unknown>] : []
    })
    this.records.push(top)
    this.doc.transact(() => {
      const m = this.ownedMap()
      const x = this.tag('x')
      m.set('x', x)
      m.set('n', 0)
      const list = new Y.Array<string>()
      const l0 = this.tag('l')
      list.push([l0])
      m.set('list', list)
      m.set('text', new Y.Text('abc'))
      const child = new Y.Map<unknown>()
      const q = this.tag('q')
      child.set('q', q)
      m.set('child', child)
      models.set(this.name, m)
      Object.assign(top.mirror, { x, n: 0, list: [l0], text: 'abc', child: { q } })
      for (const v of [x, 0, l0, q]) top.values.add(v)
      for (const k of ['x', 'n', 'list', 'text', 'child']) top.keys.add(k)
      if (withContainers) {
        // issue 19 #6: owned models inside unowned containers (a map and an array).
        const box = new Y.Map<unknown>()
        const inner = this.ownedMap()
        const bx = this.tag('bx')
        inner.set('x', bx)
        box.set('inner', inner)
        box.set('note', 'unowned')
        models.set(`box${this.name}`, box)
        const boxRec = new OwnedRecord(this, `models/box${this.name}/inner`, (d) => {
          const b = d.getMap<unknown>('models').get(`box${this.name}`)
          const i = b instanceof Y.Map ? b.get('inner') : undefined
          return i instanceof Y.Map ? [i as Y.Map<unknown>] : []
        })
        boxRec.mirror.x = bx
        boxRec.values.add(bx)
        boxRec.keys.add('x')
        const arr = new Y.Array<unknown>()
        const el = this.ownedMap()
        const ax = this.tag('ax')
        el.set('x', ax)
        arr.push(['unowned', el])
        models.set(`arr${this.name}`, arr)
        const arrRec = new OwnedRecord(this, `models/arr${this.name}[*]`, (d, cleared) => {
          const a = d.getMap<unknown>('models').get(`arr${this.name}`)
          if (!(a instanceof Y.Array)) return []
          return (a.toArray() as unknown[]).filter((v): v is Y.Map<unknown> => {
            if (!(v instanceof Y.Map)) return false
            const meta = v.get('$meta')
            const owner = meta instanceof Y.Map ? meta.get('ownerID') : undefined
            // After a clean restart, anonymous owners' models are released (ownerID -1).
            return owner === this.id || (cleared === true && owner === -1 && v.get('x') === arrRec.mirror.x)
          })
        })
        arrRec.mirror.x = ax
        arrRec.values.add(ax)
        arrRec.keys.add('x')
        this.records.push(boxRec, arrRec)
      }
    })
  }

  private ownedMap(): Y.Map<unknown> {
    const m = new Y.Map<unknown>()
    const meta = new Y.Map<unknown>()
    meta.set('ownerID', this.id)
    meta.set('preventOwnershipTakeover', true)
    m.set('$meta', meta)
    return m
  }

  private tag(kind: string): string {
    return `${this.name}:${kind}:${++this.counter}`
  }

  /** 1..3 random edits of its own models, in one transaction, recorded in their mirrors. */
  edit(rng: Rng): void {
    this.doc.transact(() => {
      const n = 1 + int(rng, 3)
      for (let i = 0; i < n; i++) this.editOne(rng)
    })
  }

  private editOne(rng: Rng): void {
    const rec = pick(rng, this.records)
    const found = rec.locate(this.doc)
    if (found.length !== 1) return
    rec.lastWriteAt = Date.now()
    const m = found[0]
    if (rec !== this.records[0]) {
      const v = this.tag('x')
      m.set('x', v)
      rec.mirror.x = v
      rec.values.add(v)
      return
    }
    const op = pick(rng, ['x', 'x', 'n', 'push', 'delete', 'text', 'textDelete', 'q', 'shared'])
    const list = m.get('list')
    const text = m.get('text')
    const child = m.get('child')
    const mirrorList = rec.mirror.list as string[]
    if (op === 'x') {
      const v = this.tag('x')
      m.set('x', v)
      rec.mirror.x = v
      rec.values.add(v)
    } else if (op === 'n') {
      const v = this.counter++
      m.set('n', v)
      rec.mirror.n = v
      rec.values.add(v)
    } else if (op === 'push' && list instanceof Y.Array) {
      const v = this.tag('l')
      const at = int(rng, list.length + 1)
      list.insert(at, [v])
      mirrorList.splice(at, 0, v)
      rec.values.add(v)
    } else if (op === 'delete' && list instanceof Y.Array && list.length > 0) {
      const at = int(rng, list.length)
      list.delete(at, 1)
      mirrorList.splice(at, 1)
    } else if (op === 'text' && text instanceof Y.Text) {
      const at = int(rng, text.length + 1)
      const s = Array.from({ length: 1 + int(rng, 4) }, () => TEXT_ALPHABET[int(rng, TEXT_ALPHABET.length)]).join('')
      text.insert(at, s)
      const t = rec.mirror.text as string
      rec.mirror.text = t.slice(0, at) + s + t.slice(at)
    } else if (op === 'textDelete' && text instanceof Y.Text && text.length > 0) {
      const at = int(rng, text.length)
      const len = 1 + int(rng, Math.min(3, text.length - at))
      text.delete(at, len)
      const t = rec.mirror.text as string
      rec.mirror.text = t.slice(0, at) + t.slice(at + len)
    } else if (op === 'q' && child instanceof Y.Map) {
      const v = this.tag('q')
      child.set('q', v)
      ;(rec.mirror.child as Record<string, unknown>).q = v
      rec.values.add(v)
    } else if (op === 'shared') {
      // A legal write next to the attackers' in an unowned area (not checked for content).
      this.doc.getMap<unknown>('models').set(`shared_${this.name}`, chance(rng, 0.8) ? this.tag('s') : new Y.Map())
    }
  }

  destroy(): void {
    this.leaving = true
    this.client?.destroy()
  }
}

/** A snapshot that compares replicas: state vector and delete set (Y.equalSnapshots). */
export function sameState(a: Y.Doc, b: Y.Doc): boolean {
  return Y.equalSnapshots(Y.snapshot(a), Y.snapshot(b))
}

/** What differs between two replicas, for a finding's message. */
export function describeDifference(a: Y.Doc, b: Y.Doc): string {
  const sa = Y.decodeStateVector(Y.encodeStateVector(a))
  const sb = Y.decodeStateVector(Y.encodeStateVector(b))
  const clocks = [...new Set([...sa.keys(), ...sb.keys()])].filter((c) => sa.get(c) !== sb.get(c)).map((c) => `${c}: ${sa.get(c) ?? 0} vs ${sb.get(c) ?? 0}`)
  const ja = canonical(a.getMap('models').toJSON()) ?? ''
  const jb = canonical(b.getMap('models').toJSON()) ?? ''
  let at = 0
  while (at < ja.length && ja[at] === jb[at]) at++
  const models = ja === jb ? 'models equal' : `models differ at ${at}: …${ja.slice(Math.max(0, at - 60), at + 100)}… vs …${jb.slice(Math.max(0, at - 60), at + 100)}…`
  const pending = [a, b].map((d) => (d.store.pendingStructs ? 'pending structs' : d.store.pendingDs ? 'pending deletes' : 'nothing pending'))
  return `clocks differ [${clocks.slice(0, 8).join('; ')}${clocks.length > 8 ? '; …' : ''}]; ${models}; ${pending.join(' / ')}; ${deleteDifference(a, b)}; placed differently: ${structuralDifference(a, b)}`
}

/** Where an item sits in a replica, at clock `clock` of its client: parent, key, left neighbour, deleted. */
function placeOf(d: Y.Doc, client: number, clock: number): string | null {
  const structs = d.store.clients.get(client)
  if (!structs) return null
  let s: Y.Item | Y.GC
  try {
    s = structs[Y.findIndexSS(structs, clock)] as Y.Item | Y.GC
  } catch {
    return null
  }
  if (!(s instanceof Y.Item)) return 'GC'
  const parent = s.parent as Y.AbstractType<any> | null
  const p = parent === null ? '?' : parent._item ? `${parent._item.id.client}:${parent._item.id.clock}` : `root ${[...d.share].find(([, t]) => t === parent)?.[0] ?? '?'}`
  const left = clock > s.id.clock ? `${client}:${clock - 1}` : s.left ? `${s.left.lastId.client}:${s.left.lastId.clock}` : '-'
  return `${p}${s.parentSub !== null ? `.${s.parentSub}` : ''} left ${left}${s.deleted ? ' deleted' : ''}`
}

/**
 * Items placed differently in two replicas (another parent, key or left neighbour, or deleted
 * in one only): the items Yjs integrated differently, which is what a divergence comes from.
 */
export function structuralDifference(a: Y.Doc, b: Y.Doc, max = 3): string {
  const out: string[] = []
  for (const [client, structs] of a.store.clients) {
    for (const s of structs) {
      if (!(s instanceof Y.Item)) continue
      const pa = placeOf(a, client, s.id.clock)
      const pb = placeOf(b, client, s.id.clock)
      if (pb === null || pa === pb || pb === 'GC') continue
      const o = s.origin ? `${s.origin.client}:${s.origin.clock}` : '-'
      const r = s.rightOrigin ? `${s.rightOrigin.client}:${s.rightOrigin.clock}` : '-'
      out.push(`${client}:${s.id.clock} (${s.content.constructor.name} ${short(s.content.getContent().map((x) => (x instanceof Y.AbstractType ? x.constructor.name : x)), 40)}, origin ${o}, right origin ${r}): ${pa} | ${pb}`)
      if (out.length >= max) return out.join('; ')
    }
  }
  return out.length ? out.join('; ') : 'no item placed differently'
}

/** Items deleted in one replica and not in the other (where they are, what they hold). */
function deleteDifference(a: Y.Doc, b: Y.Doc): string {
  const deleted = (d: Y.Doc) => {
    const out = new Set<string>()
    const ds = Y.createDeleteSetFromStructStore(d.store)
    for (const [client, ranges] of ds.clients) for (const r of ranges) for (let c = r.clock; c < r.clock + r.len && c < r.clock + 200; c++) out.add(`${client}:${c}`)
    return out
  }
  const da = deleted(a)
  const db = deleted(b)
  const onlyA = [...da].filter((x) => !db.has(x))
  const onlyB = [...db].filter((x) => !da.has(x))
  if (onlyA.length === 0 && onlyB.length === 0) return 'same deletions'
  const describe = (d: Y.Doc, id: string) => {
    const [client, clock] = id.split(':').map(Number)
    const structs = d.store.clients.get(client)
    if (!structs) return `${id} (absent)`
    try {
      const s = structs[Y.findIndexSS(structs, clock)]
      if (!(s instanceof Y.Item)) return `${id} GC`
      const parent = s.parent as Y.AbstractType<any> | null
      const where = parent?._item ? `${parent._item.id.client}:${parent._item.id.clock}` : parent ? 'root' : '?'
      return `${id} in ${where}${s.parentSub !== null ? `.${s.parentSub}` : ''} ${s.content.constructor.name} ${short(s.content.getContent(), 60)}`
    } catch {
      return `${id} (?)`
    }
  }
  return `deleted only in the first: [${onlyA.slice(0, 4).map((x) => describe(b, x)).join('; ')}${onlyA.length > 4 ? `; …${onlyA.length}` : ''}], only in the second: [${onlyB.slice(0, 4).map((x) => describe(a, x)).join('; ')}${onlyB.length > 4 ? `; …${onlyB.length}` : ''}]`
}
