import { describe, expect, it } from 'vitest'
import { connectProvider, startServer, until } from './helpers.js'

describe('smoke', () => {
  it('two stock clients converge', async () => {
    const s = await startServer()
    const a = await connectProvider(s.url, 'room-1')
    const b = await connectProvider(s.url, 'room-1')
    a.doc.getMap('m').set('x', 1)
    await until(() => b.doc.getMap('m').get('x') === 1)
    expect(b.doc.getMap('m').toJSON()).toEqual({ x: 1 })
    a.destroy()
    b.destroy()
    await s.close()
  })
})
