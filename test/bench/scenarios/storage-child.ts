/**
 * Scenario 6 worker: the storage layer alone. Appends batches of real writer updates (one
 * tick of 50 clients = one batch) to yroom's LevelDB storage in 4 rooms at once for a fixed
 * time, awaiting each batch as the room tick does. Prints updates per second.
 */
import * as Y from 'yjs'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LevelStorage } from '../../../server/storage/leveldb.js'

function tickBatch(clients: number): Uint8Array[] {
  return Array.from({ length: clients }, (_, i) => {
    const doc = new Y.Doc()
    let update: Uint8Array = new Uint8Array()
    doc.on('update', (u: Uint8Array) => (update = u))
    doc.getMap('models').set(`m${i}`, `YbM${String(i).padStart(6, '0')}${String(Date.now() * 1000).padStart(12, '0')}`)
    return update
  })
}

async function main(): Promise<void> {
  const { seconds, batch } = JSON.parse(process.argv[2]) as { seconds: number; batch: number }
  const dir = mkdtempSync(join(tmpdir(), 'yroom-bench-append-'))
  const storage = new LevelStorage(dir)
  await storage.open()
  const updates = tickBatch(batch)
  let stored = 0
  const end = performance.now() + seconds * 1000
  const room = async (name: string) => {
    while (performance.now() < end) {
      await storage.append(name, updates)
      stored += updates.length
    }
  }
  const t0 = performance.now()
  await Promise.all([0, 1, 2, 3].map((i) => room(`append-${i}`)))
  const sec = (performance.now() - t0) / 1000
  await storage.close()
  rmSync(dir, { recursive: true, force: true })
  console.log(JSON.stringify({ updatesPerSec: stored / sec, batch, bytesPerUpdate: updates.reduce((n, u) => n + u.byteLength, 0) / updates.length }))
}

await main()
