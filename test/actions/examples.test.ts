import { describe, expect, it } from 'vitest'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as Y from 'yjs'
import WebSocket from 'ws'
import { connect, type WebSocketConstructor } from '../../src/sdk/index.js'
import { startChildServer } from '../child-server.js'

const run = promisify(execFile)
const root = fileURLToPath(new URL('../..', import.meta.url))

describe('actions examples', () => {
  it('the counter demo ends at exactly 150', async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'examples/actions/demo.ts'], { cwd: root })
    expect(stdout).toContain('value = 150 (expected 150)')
  })

  it('yroom serve --actions MODULE enables the module\'s action sets', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'yroom-cli-actions-'))
    const file = join(dir, 'actions.mjs')
    writeFileSync(
      file,
      `export const actionSets = [{ name: 'counter', actionOnly: true, allow: () => true,
         actions: { increment: (d, by = 1) => { d.value = (d.value ?? 0) + by } } }]\n`,
    )
    const child = await startChildServer(['--data', ':memory:', '--actions', file])
    const set = { name: 'counter', actionOnly: true, allow: () => true, actions: { increment: (d: { value: number }, by = 1) => void (d.value += by) } }
    const room = connect({ url: child.url, room: 'r', actions: [set], WebSocket: WebSocket as unknown as WebSocketConstructor })
    try {
      await room.whenSynced()
      const counter = new Y.Map<unknown>()
      room.doc.transact(() => {
        const meta = new Y.Map<unknown>()
        meta.set('actions', 'counter')
        counter.set('$meta', meta)
        counter.set('value', 0)
        room.doc.getMap('models').set('counter', counter)
      })
      await expect(room.patch(counter, 'increment', 2)).resolves.toMatchObject({ value: 2 })
      // Action-only: a direct write is rolled back.
      counter.set('value', 100)
      await new Promise<void>((resolve) => room.doc.on('update', () => counter.get('value') === 2 && resolve()))
      expect(counter.get('value')).toBe(2)
    } finally {
      room.destroy()
      await child.kill()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
