/**
 * Two copies of Yjs in one process (issue 21): CommonJS `require('yjs')` beside the ES
 * module the SDK uses. Objects of one copy fail the other's instanceof checks; yroom must
 * say so clearly at connect / server start instead of misbehaving silently.
 */
import { afterAll, describe, expect, it, vi } from 'vitest'
import { createRequire } from 'node:module'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { Writable } from 'node:stream'
import pino from 'pino'
import * as Y from 'yjs'
import { connect, otherYjsCopies, YjsCopyError } from '../../src/index.js'
import { createServer } from '../../server/index.js'
import { resetYjsCopiesWarning } from '../../src/shared/yjs-copies.js'
import { startChildServer } from '../child-server.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const offline = { url: 'ws://127.0.0.1:9', room: 'r', connect: false } as const
const errors = vi.spyOn(console, 'error').mockImplementation(() => {})
afterAll(() => errors.mockRestore())

describe('two copies of Yjs', () => {
  it('one copy: nothing is reported', () => {
    expect(otherYjsCopies()).toEqual([])
    const room = connect({ ...offline, doc: new Y.Doc() })
    room.destroy()
    expect(errors).not.toHaveBeenCalled()
  })

  it('an ES module copy evaluated after yroom is counted', async () => {
    const before = otherYjsCopies().filter((c) => c.includes('evaluated after')).length
    const second = (await import(/* @vite-ignore */ `${pathToFileURL(join(root, 'node_modules/yjs/dist/yjs.mjs')).href}?second-copy`)) as typeof Y
    expect(second.Doc).not.toBe(Y.Doc)
    expect(before).toBe(0)
    expect(otherYjsCopies().join()).toMatch(/1 Yjs module\(s\) evaluated after yroom's/)
  })

  it("a CommonJS copy: connect({ doc }) and patch() throw YjsCopyError; connect() logs it once", () => {
    // The CommonJS build of the same package: a second copy with its own classes.
    const CjsY = createRequire(import.meta.url)('yjs') as typeof Y
    expect(CjsY.Doc).not.toBe(Y.Doc)
    expect(otherYjsCopies().join()).toMatch(/CommonJS yjs \(.*yjs\.cjs\)/)

    expect(() => connect({ ...offline, doc: new CjsY.Doc() })).toThrow(YjsCopyError)
    expect(() => connect({ ...offline, doc: new CjsY.Doc() })).toThrow(/another copy of Yjs.*npm ls yjs/)

    errors.mockClear()
    const room = connect(offline)
    const room2 = connect(offline)
    const logged = errors.mock.calls.map((c) => String(c[0])).filter((m) => m.startsWith('yroom: two copies of Yjs'))
    expect(logged).toHaveLength(1)
    expect(logged[0]).toMatch(/CommonJS yjs/)

    const foreignMap = new CjsY.Doc().getMap('counter')
    expect(() => room.patch(foreignMap, 'increment', 1)).toThrow(YjsCopyError)
    expect(() => room.updated(foreignMap, () => {})).toThrow(/patch|updated\(model\): the Y.Map comes from another copy of Yjs/)
    room.destroy()
    room2.destroy()
  })

  it('createServer logs an error through its logger', async () => {
    resetYjsCopiesWarning()
    let out = ''
    const sink = new Writable({ write: (chunk, _enc, cb) => ((out += chunk), cb()) })
    const server = await createServer({ port: 0, storage: ':memory:', processMetrics: false, logger: pino({ level: 'error' }, sink) })
    await server.close()
    expect(out).toMatch(/"level":50.*two copies of Yjs are loaded in this process/)
  })

  it('yroom serve refuses to start when an --actions module brings its own Yjs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'yroom-yjs-copies-'))
    try {
      const file = join(dir, 'actions.mjs')
      writeFileSync(
        file,
        `import { createRequire } from 'node:module'\n` +
          `createRequire(${JSON.stringify(join(root, 'package.json'))})('yjs')\n` +
          `export const actionSets = []\n`,
      )
      await expect(startChildServer(['--data', ':memory:', '--actions', file])).rejects.toThrow(/two copies of Yjs are loaded \(CommonJS yjs/)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
