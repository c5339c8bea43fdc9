/**
 * Merges the updates of one tick into the one update that is stored and broadcast.
 *
 * Updates from different clients hold disjoint struct sections, so their merge is a
 * concatenation of those sections: a copy of bytes, where Y.mergeUpdates decodes every struct
 * and encodes it again. Sections are written in descending client order, as Yjs writes
 * them: Y.mergeUpdates and the other update utilities read updates as sorted streams.
 * A client may have only one section in an update, so updates that share a client (one
 * client writing twice in a tick) become one section: by concatenating their structs when
 * each is one section of that client and their clock ranges follow each other (a struct's
 * clock is implied by its position), else by Y.mergeUpdates.
 *
 * The delete sets (a few ranges each) are decoded and written again as one, each client once
 * with sorted, merged ranges: Yjs re-encodes deletes it cannot apply yet with delta-encoded
 * clocks, which requires that order.
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
    const d = decoding.createDecoder(update)
    d.pos = layout.deletesStart
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

/** A byte range of an update (a view without allocating a subarray). */
interface Piece {
  buf: Uint8Array
  start: number
  end: number
}

interface Section {
  client: number
  /** The section's bytes, header included, in pieces. */
  pieces: Piece[]
}

type Part = { update: Uint8Array; layout: UpdateLayout }

/**
 * One section for updates of one client whose clock ranges follow each other: a new header,
 * then each update's structs as they are. Null when they are not like that.
 */
function consecutiveSection(parts: Part[]): Section | null {
  if (parts.some((p) => p.layout.sectionClients.length !== 1 || p.layout.sectionEndClocks[0] < 0)) return null
  const client = parts[0].layout.sectionClients[0]
  const runs = [...parts].sort((a, b) => a.layout.sectionClocks[0] - b.layout.sectionClocks[0])
  for (let i = 1; i < runs.length; i++) {
    if (runs[i].layout.sectionClients[0] !== client || runs[i].layout.sectionClocks[0] !== runs[i - 1].layout.sectionEndClocks[0]) return null
  }
  const header = encoding.createEncoder()
  encoding.writeVarUint(header, runs.reduce((n, r) => n + r.layout.sectionStructs[0], 0))
  encoding.writeVarUint(header, client)
  encoding.writeVarUint(header, runs[0].layout.sectionClocks[0])
  const head = encoding.toUint8Array(header)
  const pieces: Piece[] = [{ buf: head, start: 0, end: head.length }]
  for (const { update, layout } of runs) pieces.push({ buf: update, start: layout.structsStarts[0], end: layout.sectionsEnd })
  return { client, pieces }
}

function pushSectionsOf(sections: Section[], { update, layout }: Part): void {
  const { sectionClients, sectionStarts, sectionsEnd } = layout
  for (let i = 0; i < sectionClients.length; i++) {
    const end = i + 1 < sectionStarts.length ? sectionStarts[i + 1] : sectionsEnd
    sections.push({ client: sectionClients[i], pieces: [{ buf: update, start: sectionStarts[i], end }] })
  }
}

/** True when no client has sections in two of the updates (the usual tick: one write each). */
function clientsDistinct(layouts: UpdateLayout[]): boolean {
  const seen = new Set<number>()
  for (const layout of layouts) {
    for (const client of layout.sectionClients) {
      if (seen.has(client)) return false
      seen.add(client)
    }
  }
  return true
}

/** Copies a byte range; small ranges (most sections) by loop, which allocates no view. */
function copyInto(out: Uint8Array, pos: number, { buf, start, end }: Piece): number {
  if (end - start < 256) {
    for (let i = start; i < end; i++) out[pos++] = buf[i]
    return pos
  }
  out.set(buf.subarray(start, end), pos)
  return pos + end - start
}

/** The update: section count, sections in descending client order, then the delete set. */
function assemble(sections: Section[], deleteSet: Uint8Array): Uint8Array {
  sections.sort((a, b) => b.client - a.client)
  const head = encoding.createEncoder()
  encoding.writeVarUint(head, sections.length)
  let size = encoding.length(head) + deleteSet.length
  for (const s of sections) for (const p of s.pieces) size += p.end - p.start
  const out = new Uint8Array(size)
  out.set(encoding.toUint8Array(head), 0)
  let pos = encoding.length(head)
  for (const s of sections) for (const p of s.pieces) pos = copyInto(out, pos, p)
  out.set(deleteSet, pos)
  return out
}

export function mergeTick(pending: PendingUpdate[]): Uint8Array {
  if (pending.length === 1) return pending[0].update
  const layouts = pending.map((p) => p.layout ?? readUpdateLayout(p.update))
  const parts: Part[] = pending.map((p, i) => ({ update: p.update, layout: layouts[i] }))
  const sections: Section[] = []
  if (clientsDistinct(layouts)) {
    for (const part of parts) pushSectionsOf(sections, part)
  } else {
    for (const group of groupsSharingClients(layouts)) {
      const members = group.map((i) => parts[i])
      const consecutive = members.length > 1 ? consecutiveSection(members) : null
      if (members.length === 1) {
        pushSectionsOf(sections, members[0])
      } else if (consecutive) {
        sections.push(consecutive)
      } else {
        // Overlapping ranges or several clients: Y.mergeUpdates keeps what each update holds.
        const merged = Y.mergeUpdates(members.map((m) => m.update))
        pushSectionsOf(sections, { update: merged, layout: readUpdateLayout(merged) })
      }
    }
  }
  // Every update's delete set counts, whichever way its structs were merged.
  const deletes = encoding.createEncoder()
  writeDeletes(deletes, collectDeletes(parts))
  return assemble(sections, encoding.toUint8Array(deletes))
}
