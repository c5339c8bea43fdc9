/** Scenario 7, memory: K idle loaded rooms of M models, against the heap of the same Y.Docs alone. */
import { join } from 'node:path'
import { runScript } from '../lib/child-script.js'
import type { MemoryChildResult } from './memory-child.js'
import { log, type Settings } from './common.js'

export interface MemoryResult {
  rooms: number
  models: number
  stateBytes: number
  /** Heap of one plain Y.Doc with the room's state, MB. */
  docHeapMB: number
  /** Per loaded idle room, MB. */
  roomRssMB: number
  roomHeapMB: number
  /** After unloading all rooms, relative to before loading them, MB in total. */
  unloadedRssMB: number
  unloadedHeapMB: number
  /** The same for the plain Y.Docs after they were destroyed: what V8/malloc keep anyway. */
  docsDroppedRssMB: number
  docsDroppedHeapMB: number
  /** Target: roomRssMB <= 2 × docHeapMB + 0.1. */
  limitMB: number
}

export async function memoryScenario(s: Settings): Promise<MemoryResult> {
  log(`scenario 7 memory: ${s.memory.rooms} idle rooms of ${s.memory.models} models`)
  const child = join(import.meta.dirname, 'memory-child.ts')
  const args = { rooms: s.memory.rooms, models: s.memory.models }
  const doc = await runScript<MemoryChildResult>(child, { ...args, mode: 'ydoc' }, ['--expose-gc'])
  const room = await runScript<MemoryChildResult>(child, { ...args, mode: 'yroom' }, ['--expose-gc'])
  const k = s.memory.rooms
  const docHeapMB = (doc.loaded.heapMB - doc.base.heapMB) / k
  const r: MemoryResult = {
    rooms: k,
    models: s.memory.models,
    stateBytes: room.stateBytes,
    docHeapMB,
    roomRssMB: (room.loaded.rssMB - room.base.rssMB) / k,
    roomHeapMB: (room.loaded.heapMB - room.base.heapMB) / k,
    unloadedRssMB: room.unloaded!.rssMB - room.base.rssMB,
    unloadedHeapMB: room.unloaded!.heapMB - room.base.heapMB,
    docsDroppedRssMB: doc.unloaded!.rssMB - doc.base.rssMB,
    docsDroppedHeapMB: doc.unloaded!.heapMB - doc.base.heapMB,
    limitMB: 2 * docHeapMB + 0.1,
  }
  log(
    `  Y.Doc heap ${(docHeapMB * 1024).toFixed(1)} KB; room RSS ${(r.roomRssMB * 1024).toFixed(1)} KB, heap ${(r.roomHeapMB * 1024).toFixed(1)} KB; ` +
      `after unload RSS ${r.unloadedRssMB.toFixed(1)} MB, heap ${r.unloadedHeapMB.toFixed(2)} MB ` +
      `(plain Y.Docs dropped: RSS ${r.docsDroppedRssMB.toFixed(1)} MB, heap ${r.docsDroppedHeapMB.toFixed(2)} MB)`,
  )
  return r
}
