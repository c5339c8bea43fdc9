/**
 * The origin checks (server/room/origins.ts) against Yjs alone, without a server: honest
 * concurrent editing is never refused, and crafted list items they let through end up in
 * the same place whatever the order replicas integrate them in (the server in arrival
 * order, a late joiner by client id), which is what keeps a late joiner equal to the
 * server. Without the checks about one case in twenty of these crafted histories diverges.
 */
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { checkOrigins, checkPlaced } from '../../server/room/origins.js'
import { readUpdateLayout } from '../../server/codec/update-layout.js'
import { mulberry32 } from '../helpers.js'
import { content, encodeUpdate, type Id, type Struct } from './v1.js'

/** Applies `u` to `doc` as the server does (checks, apply, checks of what was placed); false when refused. */
function serverApply(doc: Y.Doc, u: Uint8Array): boolean {
  const layout = readUpdateLayout(u)
  const before = new Map<number, number>()
  for (const c of layout.structClients.keys()) before.set(c, Y.getState(doc.store, c))
  try {
    doc.transact(() => {
      const again = checkOrigins(doc, u, layout)
      Y.applyUpdate(doc, u)
      if (again) checkPlaced(doc, layout.structClients.keys(), before, layout.neighbours.length / 5)
    })
    return true
  } catch {
    return false
  }
}

/** Each character of a list, by id, in order. */
function order(doc: Y.Doc, name: string): string {
  const out: string[] = []
  for (let i = doc.getText(name)._start; i !== null; i = i.right) for (let k = 0; k < i.length; k++) out.push(`${i.id.client}:${i.id.clock + k}`)
  return out.join(' ')
}

describe('origin checks (issue 19)', () => {
  it('never refuse honest concurrent edits: typing, deleting, formatting, undo and redo, offline catch-ups', () => {
    let intoText = 0
    for (let seed = 1; seed <= 40; seed++) {
      const r = mulberry32(seed)
      const int = (n: number) => Math.floor(r() * n)
      const docs = Array.from({ length: 3 }, (_, i) => {
        const d = new Y.Doc()
        d.clientID = 100 + i * 37
        return d
      })
      const server = new Y.Doc()
      const outbox: Array<{ from: number; u: Uint8Array }> = []
      docs.forEach((d, i) => d.on('update', (u: Uint8Array, origin: unknown) => origin !== 'remote' && outbox.push({ from: i, u })))
      const undo = docs.map((d) => new Y.UndoManager(d.getText('t'), { captureTimeout: 0 }))
      const delivered = docs.map(() => 0)
      const broadcasts: Uint8Array[] = []
      for (let step = 0; step < 150; step++) {
        const i = int(docs.length)
        const t = docs[i].getText('t')
        const k = int(10)
        if (k < 5) t.insert(int(t.length + 1), 'xyz'.slice(0, 1 + int(3)))
        else if (k < 7 && t.length > 0) t.delete(int(t.length), 1)
        else if (k < 9) void (r() < 0.5 ? undo[i].undo() : undo[i].redo())
        else t.format(int(t.length + 1), 2, { bold: r() < 0.5 ? true : null })
        if (outbox.length > 0 && r() < 0.05) {
          // An offline client catching up: everything it wrote, as one update.
          const from = outbox[0].from
          const mine = outbox.filter((e) => e.from === from)
          for (const e of mine) outbox.splice(outbox.indexOf(e), 1)
          outbox.unshift({ from, u: Y.mergeUpdates(mine.map((e) => e.u)) })
        }
        while (outbox.length > 0 && r() < 0.3) {
          // Each client's updates in order, the clients' interleaved.
          const from = outbox[int(Math.min(outbox.length, 3))].from
          const { u } = outbox.splice(outbox.findIndex((e) => e.from === from), 1)[0]
          const left = server.getText('t')._start
          expect(serverApply(server, u)).toBe(true)
          if (left !== null) intoText++
          broadcasts.push(u)
        }
        for (let j = 0; j < docs.length; j++) while (delivered[j] < broadcasts.length && r() < 0.2) Y.applyUpdate(docs[j], broadcasts[delivered[j]++], 'remote')
      }
    }
    expect(intoText).toBeGreaterThan(1000)
  })

  it('let through only crafted list items that land in one place whatever the order of integration', () => {
    let accepted = 0
    let refused = 0
    for (let seed = 1; seed <= 1500; seed++) {
      const r = mulberry32(seed)
      const int = (n: number) => Math.floor(r() * n)
      // A text written by three clients, then crafted items with origins anywhere in it.
      const base = new Y.Doc()
      const text = base.getText('t')
      for (let i = 0; i < 5; i++) {
        base.clientID = 1 + int(3)
        text.insert(int(text.length + 1), 'abc'.slice(0, 1 + int(3)))
      }
      const baseUpdate = Y.encodeStateAsUpdate(base)
      const ids: Id[] = []
      for (let i = text._start; i !== null; i = i.right) for (let k = 0; k < i.length; k++) ids.push({ client: i.id.client, clock: i.id.clock + k })
      const server = new Y.Doc()
      Y.applyUpdate(server, baseUpdate)
      const next = new Map<number, number>()
      const sent: Uint8Array[] = []
      for (let k = 0; k < 5; k++) {
        const client = 100 + int(3)
        const clock = next.get(client) ?? 0
        const pick = (p: number): Id | null => (r() < p ? null : ids[int(ids.length)])
        const itemAt = (origin: Id | null, rightOrigin: Id | null, s: string): Struct => ({ ...content.string(s), len: 0, origin, rightOrigin, parent: origin || rightOrigin ? null : { root: 't' }, parentSub: null })
        const structs = [itemAt(pick(0.15), pick(0.2), 'xyz'.slice(0, 1 + int(3)))]
        // Sometimes a second item of the same client in the update, placed by the first or near it.
        if (r() < 0.3) {
          const first: Id = { client, clock }
          structs.push(itemAt(r() < 0.5 ? first : pick(0.15), r() < 0.5 ? first : pick(0.2), 'q'))
        }
        const u = encodeUpdate({ sections: [{ client, clock, structs }], ds: [], trailing: new Uint8Array(0) })
        // Refused, the server keeps nothing of it: tried on a copy first.
        const copy = new Y.Doc()
        Y.applyUpdate(copy, Y.encodeStateAsUpdate(server))
        if (!serverApply(copy, u)) {
          refused++
          continue
        }
        accepted++
        Y.applyUpdate(server, u)
        sent.push(u)
        const length = structs.reduce((n, s) => n + s.length, 0)
        for (let q = 0; q < length; q++) ids.push({ client, clock: clock + q })
        next.set(client, clock + length)
      }
      // A late joiner (by client id), and a replica that got the updates in reverse order.
      const late = new Y.Doc()
      Y.applyUpdate(late, Y.encodeStateAsUpdate(server))
      const reverse = new Y.Doc()
      Y.applyUpdate(reverse, baseUpdate)
      for (const u of [...sent].reverse()) Y.applyUpdate(reverse, u)
      expect(order(late, 't'), `seed ${seed}`).toBe(order(server, 't'))
      expect(order(reverse, 't'), `seed ${seed}`).toBe(order(server, 't'))
    }
    expect(accepted).toBeGreaterThan(1000)
    expect(refused).toBeGreaterThan(1000)
  })
})
