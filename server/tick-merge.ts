/**
 * Merges the updates of one tick into the one update that is stored and broadcast.
 *
 * Updates from different clients hold disjoint struct sections, so their merge is a
 * concatenation of those sections: a copy of bytes, where Y.mergeUpdates decodes every struct
 * and encodes it again. Sections are written in descending client order, as Yjs writes
 * them: Y.mergeUpdates and the other update utilities read updates as sorted streams. Updates that share a client (one client writing twice in a tick) are
 * merged by Y.mergeUpdates first, because a client may have only one struct section in an
 * update. The delete sets (a few ranges each) are decoded and written again as one, each
 * client once with sorted, merged ranges: Yjs re-encodes deletes it cannot apply yet with
 * delta-encoded clocks, which requires that order.
 */
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import { readUpdateLayout, type UpdateLayout } from './update-layout.js'

export interface PendingUpdate {
  update: Uint8Array
  /** Its layout, when already read (client updates are read on arrival). */
  layout: UpdateLayout | null
}

/** Groups of indexes of updates that share a client (union-find over section clients). */
function groupsSharingClients(layouts: UpdateLayout[]): number[][] {
  const parent = layouts.map((_, i) => i)
  const find = (i: number): number => {
    while (parent[i] !== i) i = parent[i] = parent[parent[i]]
    return i
  }
  const firstWith = new Map<number, number>()
  layouts.forEach((layout, i) => {
    for (const client of layout.sectionClients) {
      const j = firstWith.get(client)
      if (j === undefined) firstWith.set(client, i)
      else parent[find(i)] = find(j)
    }
  })
  const groups = new Map<number, number[]>()
  layouts.forEach((_, i) => {
    const root = find(i)
    const g = groups.get(root)
    if (g) g.push(i)
    else groups.set(root, [i])
  })
  return [...groups.values()]
}

/** Reads the delete-set entries of every part into client → [clock, end) ranges. */
function collectDeletes(parts: Array<{ update: Uint8Array; layout: UpdateLayout }>): Map<number, Array<[number, number]>> {
  const byClient = new Map<number, Array<[number, number]>>()
  for (const { update, layout } of parts) {
    const d = decoding.createDecoder(update.subarray(layout.deletesStart, layout.deletesEnd))
    for (let i = 0; i < layout.deleteEntries; i++) {
      const client = decoding.readVarUint(d)
      const n = decoding.readVarUint(d)
      let ranges = byClient.get(client)
      if (!ranges) byClient.set(client, (ranges = []))
      for (let j = 0; j < n; j++) {
        const clock = decoding.readVarUint(d)
        ranges.push([clock, clock + decoding.readVarUint(d)])
      }
    }
  }
  return byClient
}

/** Writes a delete set as Yjs does: clients in descending order, ranges sorted and merged. */
function writeDeletes(enc: encoding.Encoder, byClient: Map<number, Array<[number, number]>>): void {
  const clients = [...byClient.keys()].filter((c) => byClient.get(c)!.length > 0).sort((a, b) => b - a)
  encoding.writeVarUint(enc, clients.length)
  for (const client of clients) {
    const ranges = byClient.get(client)!.sort((a, b) => a[0] - b[0])
    const merged: Array<[number, number]> = [ranges[0]]
    for (let i = 1; i < ranges.length; i++) {
      const last = merged[merged.length - 1]
      if (ranges[i][0] <= last[1]) last[1] = Math.max(last[1], ranges[i][1])
      else merged.push(ranges[i])
    }
    encoding.writeVarUint(enc, client)
    encoding.writeVarUint(enc, merged.length)
    for (const [clock, end] of merged) {
      encoding.writeVarUint(enc, clock)
      encoding.writeVarUint(enc, end - clock)
    }
  }
}

export function mergeTick(pending: PendingUpdate[]): Uint8Array {
  if (pending.length === 1) return pending[0].update
  const layouts = pending.map((p) => p.layout ?? readUpdateLayout(p.update))
  const parts: Array<{ update: Uint8Array; layout: UpdateLayout }> = []
  for (const group of groupsSharingClients(layouts)) {
    if (group.length === 1) {
      parts.push({ update: pending[group[0]].update, layout: layouts[group[0]] })
    } else {
      // Arrival order: Y.mergeUpdates keeps what each update holds, whatever the order.
      const merged = Y.mergeUpdates(group.map((i) => pending[i].update))
      parts.push({ update: merged, layout: readUpdateLayout(merged) })
    }
  }
  const sections: Array<{ client: number; bytes: Uint8Array }> = []
  for (const { update, layout } of parts) {
    const { sectionClients, sectionStarts, sectionsEnd } = layout
    for (let i = 0; i < sectionClients.length; i++) {
      sections.push({ client: sectionClients[i], bytes: update.subarray(sectionStarts[i], sectionStarts[i + 1] ?? sectionsEnd) })
    }
  }
  sections.sort((a, b) => b.client - a.client)
  const enc = encoding.createEncoder()
  encoding.writeVarUint(enc, sections.length)
  for (const s of sections) encoding.writeUint8Array(enc, s.bytes)
  writeDeletes(enc, collectDeletes(parts))
  return encoding.toUint8Array(enc)
}
