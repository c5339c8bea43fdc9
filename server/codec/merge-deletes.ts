/**
 * The delete sets of a tick's updates, merged into one as Yjs writes it: each client once,
 * clients in descending order, each client's ranges sorted by clock with overlapping and
 * adjacent ranges joined. Yjs re-encodes deletes it cannot apply yet with delta-encoded
 * clocks, which requires that order.
 *
 * Plain number arrays and one sort: this runs on every tick, over one or two ranges per
 * update, and a Map of tuple arrays (or a lib0 encoder, whose buffer is allocated outside
 * the JavaScript heap) cost more than the merge itself.
 */
import * as decoding from 'lib0/decoding'
import type { UpdateLayout } from './update-layout.js'
import { varUintLength, writeVarUintAt } from './var-uint.js'

export interface MergedDeletes {
  /** Distinct clients, descending. */
  clients: number[]
  /** How many ranges each client has. */
  counts: number[]
  /** The ranges, client by client: first clock and length. */
  clocks: number[]
  lengths: number[]
  /** Encoded size in bytes. */
  byteLength: number
}

/** Reads the delete-set entries of every update (`layouts[i]` is the layout of `updates[i]`) and merges them. */
export function mergeDeleteSets(updates: readonly Uint8Array[], layouts: readonly UpdateLayout[]): MergedDeletes {
  const client: number[] = []
  const clock: number[] = []
  const end: number[] = []
  for (let u = 0; u < updates.length; u++) {
    const layout = layouts[u]
    if (layout.deleteEntries === 0) continue
    const d = decoding.createDecoder(updates[u])
    d.pos = layout.deletesStart
    for (let i = 0; i < layout.deleteEntries; i++) {
      const c = decoding.readVarUint(d)
      const n = decoding.readVarUint(d)
      for (let j = 0; j < n; j++) {
        const k = decoding.readVarUint(d)
        client.push(c)
        clock.push(k)
        end.push(k + decoding.readVarUint(d))
      }
    }
  }
  const order = Array.from({ length: client.length }, (_, i) => i)
  order.sort((a, b) => client[b] - client[a] || clock[a] - clock[b])
  const out: MergedDeletes = { clients: [], counts: [], clocks: [], lengths: [], byteLength: 0 }
  for (const i of order) {
    const last = out.clients.length - 1
    if (last >= 0 && out.clients[last] === client[i]) {
      const r = out.clocks.length - 1
      const lastEnd = out.clocks[r] + out.lengths[r]
      if (clock[i] <= lastEnd) {
        out.lengths[r] = Math.max(lastEnd, end[i]) - out.clocks[r]
        continue
      }
      out.counts[last]++
    } else {
      out.clients.push(client[i])
      out.counts.push(1)
    }
    out.clocks.push(clock[i])
    out.lengths.push(end[i] - clock[i])
  }
  let size = varUintLength(out.clients.length)
  for (let c = 0, r = 0; c < out.clients.length; c++) {
    size += varUintLength(out.clients[c]) + varUintLength(out.counts[c])
    for (let j = 0; j < out.counts[c]; j++, r++) size += varUintLength(out.clocks[r]) + varUintLength(out.lengths[r])
  }
  out.byteLength = size
  return out
}

/** Writes the merged delete set at `pos`; returns the position after it. */
export function writeMergedDeletes(out: Uint8Array, pos: number, m: MergedDeletes): number {
  pos = writeVarUintAt(out, pos, m.clients.length)
  for (let c = 0, r = 0; c < m.clients.length; c++) {
    pos = writeVarUintAt(out, pos, m.clients[c])
    pos = writeVarUintAt(out, pos, m.counts[c])
    for (let j = 0; j < m.counts[c]; j++, r++) {
      pos = writeVarUintAt(out, pos, m.clocks[r])
      pos = writeVarUintAt(out, pos, m.lengths[r])
    }
  }
  return pos
}
