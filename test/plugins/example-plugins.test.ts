import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { defaultPlugins } from '../../plugins/index.js'
import { maxStringLength } from '../../examples/plugins/max-string-length.js'
import { clampNumber } from '../../examples/plugins/clamp-number.js'
import { connectProvider, startServer, until, type TestServer } from '../helpers.js'

let s: TestServer
afterEach(async () => {
  await s?.close()
})

describe('application plugins (README examples)', () => {
  it('maxStringLength rejects long strings and keeps the rest of the update', async () => {
    s = await startServer({ plugins: [...defaultPlugins(), maxStringLength(5)], tickMs: 5 })
    const a = await connectProvider(s.url, 'p')
    const b = await connectProvider(s.url, 'p')
    const seen: unknown[] = []
    b.doc.getMap('m').observe(() => seen.push(b.doc.getMap('m').get('long')))
    a.doc.transact(() => {
      a.doc.getMap('m').set('long', 'far too long')
      a.doc.getMap('m').set('short', 'ok')
    })
    await until(() => b.doc.getMap('m').get('short') === 'ok')
    await until(() => !a.doc.getMap('m').has('long'))
    expect(b.doc.getMap('m').has('long')).toBe(false)
    expect(seen).not.toContain('far too long')
    a.doc.getText('t').insert(0, 'abcdefgh')
    await until(() => a.doc.getText('t').toString() === '')
    a.destroy()
    b.destroy()
  })

  it('clampNumber rewrites out-of-range values on every replica', async () => {
    s = await startServer({ plugins: [...defaultPlugins(), clampNumber('volume', 0, 10)], tickMs: 5 })
    const a = await connectProvider(s.url, 'q')
    const b = await connectProvider(s.url, 'q')
    a.doc.getMap('player').set('volume', 99)
    await until(() => a.doc.getMap('player').get('volume') === 10 && b.doc.getMap('player').get('volume') === 10)
    a.doc.getMap('player').set('volume', 7)
    await until(() => b.doc.getMap('player').get('volume') === 7)
    expect(Y.encodeStateVector(a.doc)).toEqual(Y.encodeStateVector(s.server.rooms.get('q')!.doc))
    a.destroy()
    b.destroy()
  })
})
