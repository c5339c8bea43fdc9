/**
 * Scenario 7 worker (own process, --expose-gc). Same room contents in both modes:
 *   ydoc:  K plain Y.Docs with the state applied: the heap a Y.Doc costs by itself.
 *   yroom: K rooms loaded through the server's registry (rooms.open, authority + lifetime
 *          plugins), idle (no connections): RSS and heap per room; then all unloaded.
 * In-process, not via the CLI: the per-room figure must not include sockets or clients.
 * Each room's stored log holds its own copy of the state, so the copy compaction writes at
 * unload replaces it instead of adding to the store.
 */
import * as Y from 'yjs'
import { createServer, MemoryStorage } from '../../../server/index.js'
import { defaultPlugins } from '../../../plugins/index.js'
import { makeHistory, stateOf } from './history.js'

export interface MemSample {
  rssMB: number
  heapMB: number
}
export interface MemoryChildResult {
  mode: 'ydoc' | 'yroom'
  count: number
  stateBytes: number
  base: MemSample
  loaded: MemSample
  unloaded?: MemSample
}

const gc = (globalThis as { gc?: () => void }).gc
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

function sample(): MemSample {
  const m = process.memoryUsage()
  return { rssMB: m.rss / 2 ** 20, heapMB: m.heapUsed / 2 ** 20 }
}

/** Collects garbage until RSS and heap stop moving (V8 returns freed pages with a delay). */
async function settle(): Promise<MemSample> {
  if (!gc) throw new Error('run with --expose-gc')
  let last = sample()
  for (let i = 0; i < 12; i++) {
    gc()
    await sleep(i < 2 ? 50 : 250)
    const now = sample()
    if (i >= 2 && Math.abs(now.rssMB - last.rssMB) < 0.5 && Math.abs(now.heapMB - last.heapMB) < 0.1) return now
    last = now
  }
  return last
}

async function main(): Promise<void> {
  const { mode, rooms, models } = JSON.parse(process.argv[2]) as { mode: 'ydoc' | 'yroom'; rooms: number; models: number }
  const state = stateOf(makeHistory(models, models * 3))
  if (mode === 'ydoc') {
    const base = await settle()
    const docs: Y.Doc[] = []
    for (let i = 0; i < rooms; i++) {
      const d = new Y.Doc()
      Y.applyUpdate(d, state)
      docs.push(d)
    }
    const loaded = await settle()
    const count = docs.length
    for (const d of docs.splice(0)) d.destroy()
    const unloaded = await settle()
    const r: MemoryChildResult = { mode, count, stateBytes: state.byteLength, base, loaded, unloaded }
    console.log(JSON.stringify(r))
    return
  }
  const storage = new MemoryStorage()
  const names = Array.from({ length: rooms }, (_, i) => `mem-${i}`)
  for (const n of names) await storage.append(n, [state.slice()])
  const server = await createServer({ storage, plugins: defaultPlugins(), logger: 'silent', processMetrics: false, idleShutdownMs: 3_600_000 })
  // Warm up the load/unload path once so its code and caches are in the baseline.
  await storage.append('warm', [state.slice()])
  await server.rooms.open('warm')
  await server.rooms.unload('warm')
  const base = await settle()
  for (const n of names) await server.rooms.open(n)
  const loaded = await settle()
  if (server.rooms.all.size !== rooms) throw new Error(`expected ${rooms} loaded rooms, got ${server.rooms.all.size}`)
  for (const n of names) await server.rooms.unload(n)
  const unloaded = await settle()
  if (server.rooms.all.size !== 0) throw new Error('rooms still loaded after unload')
  const r: MemoryChildResult = { mode, count: rooms, stateBytes: state.byteLength, base, loaded, unloaded }
  console.log(JSON.stringify(r))
  await server.close()
}

await main()
