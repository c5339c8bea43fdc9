import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import type { YroomPlugin } from '../../server/index.js'
import { startServer, until, type TestServer } from '../helpers.js'

let s: TestServer
afterEach(async () => {
  await s?.close()
})

describe('plugin hooks', () => {
  it('a connection that closes while onConnect runs still gets its onDisconnect', async () => {
    const events: string[] = []
    let release!: () => void
    const gate = new Promise<void>((resolve) => (release = resolve))
    const plugin: YroomPlugin = {
      name: 'slow-connect',
      async onConnect() {
        events.push('connect')
        await gate
      },
      onDisconnect() {
        events.push('disconnect')
      },
    }
    s = await startServer({ plugins: [plugin] })
    const ws = new WebSocket(`${s.url}/hooks`)
    await until(() => events.includes('connect'))
    await new Promise((resolve) => (ws.readyState === WebSocket.OPEN ? resolve(null) : ws.once('open', resolve)))
    ws.close()
    await new Promise((resolve) => ws.once('close', resolve))
    release()
    await until(() => events.includes('disconnect'))
    expect(events).toEqual(['connect', 'disconnect'])
  })
})
