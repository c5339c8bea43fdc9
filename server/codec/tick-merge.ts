/**
 * Merges the updates of one tick into the one update that is stored and broadcast.
 *
 * An update is a list of struct sections, one per client, and a delete set. Sections of
 * different clients are independent, so the merge is a concatenation: each client's
 * section copied as bytes, where Y.mergeUpdates decodes every struct and encodes it again.
 * Sections are written in descending client order, as Yjs writes them: Y.mergeUpdates and
 * the other update utilities read updates as sorted streams. A client may have only one
 * section in an update, so when several updates hold sections of one client (a client that
 * wrote twice in a tick) and their clock ranges follow each other, their structs are joined
 * under one new header (a struct's clock is implied by its position). Anything else
 * (overlapping ranges, a gap, a string whose length in clock units is not known without
 * decoding) goes to Y.mergeUpdates whole, each update's sections put in client order first
 * (inClientOrder).
 *
 * The delete sets (a few ranges each) are decoded and written again as one, each client once
 * with sorted, merged ranges (merge-deletes.ts).
 */
import * as Y from 'yjs'
import { mergeDeleteSets, writeMergedDeletes } from './merge-deletes.js'
import { varUintLength, writeVarUintAt } from './var-uint.js'
import { readUpdateLayout, type UpdateLayout } from './update-layout.js'

export interface PendingUpdate {
  update: Uint8Array
  /** Its layout, when already read (client updates are read on arrival). */
  layout: UpdateLayout | null
}

/** One struct section of one update. */
interface SectionRef {
  client: number
  clock: number
  update: Uint8Array
  layout: UpdateLayout
  /** Its index among the update's sections. */
  index: number
}

const sectionStart = (s: SectionRef): number => s.layout.sectionStarts[s.index]
const structsStart = (s: SectionRef): number => s.layout.structsStarts[s.index]
const sectionEnd = (s: SectionRef): number =>
  s.index + 1 < s.layout.sectionStarts.length ? s.layout.sectionStarts[s.index + 1] : s.layout.sectionsEnd

/** Every section of every update, by client descending, then by clock. */
function sortedSections(updates: Uint8Array[], layouts: UpdateLayout[]): SectionRef[] {
  const refs: SectionRef[] = []
  for (let u = 0; u < updates.length; u++) {
    const layout = layouts[u]
    for (let index = 0; index < layout.sectionClients.length; index++) {
      refs.push({ client: layout.sectionClients[index], clock: layout.sectionClocks[index], update: updates[u], layout, index })
    }
  }
  return refs.sort((a, b) => b.client - a.client || a.clock - b.clock)
}

/** True when the run's clock ranges follow each other (each starts where the last ended). */
function consecutive(refs: SectionRef[], from: number, to: number): boolean {
  for (let i = from + 1; i < to; i++) {
    const end = refs[i - 1].layout.sectionEndClocks[refs[i - 1].index]
    if (end < 0 || refs[i].clock !== end) return false
  }
  return true
}

/** Copies bytes [start, end) of `buf`; small ranges (most sections) by loop, which allocates no view. */
function copyInto(out: Uint8Array, pos: number, buf: Uint8Array, start: number, end: number): number {
  if (end - start < 256) {
    for (let i = start; i < end; i++) out[pos++] = buf[i]
    return pos
  }
  out.set(buf.subarray(start, end), pos)
  return pos + end - start
}

/**
 * The merged update, or null when some client's sections cannot be joined by concatenation.
 * One pass over the sorted sections finds each client's run, checks it and sizes it; the
 * second writes.
 */
function concatenate(updates: Uint8Array[], layouts: UpdateLayout[]): Uint8Array | null {
  const refs = sortedSections(updates, layouts)
  // Per client: where its run of sections ends, and its struct count when it has several.
  const runEnds: number[] = []
  const runStructs: number[] = []
  let size = 0
  for (let from = 0, to = 0; from < refs.length; from = to) {
    while (to < refs.length && refs[to].client === refs[from].client) to++
    runEnds.push(to)
    if (to - from === 1) {
      runStructs.push(-1)
      size += sectionEnd(refs[from]) - sectionStart(refs[from])
      continue
    }
    if (!consecutive(refs, from, to)) return null
    let structs = 0
    for (let i = from; i < to; i++) {
      structs += refs[i].layout.sectionStructs[refs[i].index]
      size += sectionEnd(refs[i]) - structsStart(refs[i])
    }
    runStructs.push(structs)
    size += varUintLength(structs) + varUintLength(refs[from].client) + varUintLength(refs[from].clock)
  }
  const deletes = mergeDeleteSets(updates, layouts)
  size += varUintLength(runEnds.length) + deletes.byteLength
  const out = new Uint8Array(size)
  let pos = writeVarUintAt(out, 0, runEnds.length)
  for (let r = 0, from = 0; r < runEnds.length; from = runEnds[r++]) {
    const first = refs[from]
    if (runStructs[r] < 0) {
      pos = copyInto(out, pos, first.update, sectionStart(first), sectionEnd(first))
      continue
    }
    pos = writeVarUintAt(out, pos, runStructs[r])
    pos = writeVarUintAt(out, pos, first.client)
    pos = writeVarUintAt(out, pos, first.clock)
    for (let i = from; i < runEnds[r]; i++) pos = copyInto(out, pos, refs[i].update, structsStart(refs[i]), sectionEnd(refs[i]))
  }
  writeMergedDeletes(out, pos, deletes)
  return out
}

/**
 * The update with its sections in descending client order, as Y.mergeUpdates reads them:
 * it takes each update for a sorted stream, and drops the structs of a section that comes
 * after one of a lower client (the server holds them, the clients would never get them).
 * Yjs writes them in that order; a crafted update need not.
 */
export function inClientOrder(update: Uint8Array, layout: UpdateLayout): Uint8Array {
  const clients = layout.sectionClients
  let sorted = true
  for (let i = 1; i < clients.length && sorted; i++) sorted = clients[i - 1] > clients[i]
  if (sorted) return update
  const order = clients.map((_, i) => i).sort((a, b) => clients[b] - clients[a])
  const out = new Uint8Array(update.length)
  let pos = copyInto(out, 0, update, 0, layout.sectionStarts.length > 0 ? layout.sectionStarts[0] : layout.sectionsEnd)
  for (const i of order) {
    const end = i + 1 < clients.length ? layout.sectionStarts[i + 1] : layout.sectionsEnd
    pos = copyInto(out, pos, update, layout.sectionStarts[i], end)
  }
  copyInto(out, pos, update, layout.sectionsEnd, update.length)
  return out
}

export function mergeTick(pending: PendingUpdate[]): Uint8Array {
  if (pending.length === 1) return pending[0].update
  const updates = pending.map((p) => p.update)
  const layouts = pending.map((p) => p.layout ?? readUpdateLayout(p.update))
  // Overlapping ranges or a gap: Y.mergeUpdates keeps what each update holds.
  return concatenate(updates, layouts) ?? Y.mergeUpdates(updates.map((u, i) => inClientOrder(u, layouts[i])))
}
