/** SPEC §10: `yroom serve` loads no example code by itself; `npm start` names the examples. */
import { describe, expect, it } from 'vitest'
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import WebSocket from 'ws'
import { connect, type WebSocketConstructor } from '../../src/sdk/index.js'
import { startChildServer } from '../child-server.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const startScript = (JSON.parse(readFileSync(`${root}/package.json`, 'utf8')) as { scripts: { start: string } }).scripts.start
const builtWhiteboard = existsSync(`${root}/examples/whiteboard/dist/server-actions.mjs`)

/** Syncs a client to room `r` and reports whether the whiteboard's migration made its vote counter. */
async function hasVoteCounter(url: string): Promise<boolean> {
  const room = connect({ url, room: 'r', WebSocket: WebSocket as unknown as WebSocketConstructor })
  try {
    await room.whenSynced()
    return room.doc.getMap('counters').has('votes')
  } finally {
    room.destroy()
  }
}

describe('yroom serve and the examples', () => {
  it('without --actions / --static it runs no migration and serves no page', async () => {
    const child = await startChildServer(['--data', ':memory:'])
    try {
      expect(await hasVoteCounter(child.url)).toBe(false)
      expect((await fetch(`http://127.0.0.1:${child.port}/`)).status).toBe(404)
    } finally {
      await child.kill()
    }
  })

  it('npm start enables the examples explicitly, with the flags it names', async () => {
    expect(startScript).toMatch(/ serve .*--static examples\/whiteboard\/dist/)
    expect(startScript).toMatch(/--actions examples\/whiteboard\/dist\/server-actions\.mjs/)
    if (!builtWhiteboard) return // built by `npm install` (prepare)
    const args = startScript.slice(startScript.indexOf(' serve ') + ' serve '.length).split(/\s+/)
    const child = await startChildServer(['--data', ':memory:', ...args])
    try {
      expect(await hasVoteCounter(child.url)).toBe(true)
      expect((await fetch(`http://127.0.0.1:${child.port}/`)).status).toBe(200)
    } finally {
      await child.kill()
    }
  })

  it("with --jwt-secret the whiteboard module's demo login signs tokens the server accepts; without, it is absent", async () => {
    if (!builtWhiteboard) return // built by `npm install` (prepare)
    const args = ['--data', ':memory:', '--actions', 'examples/whiteboard/dist/server-actions.mjs']
    const plain = await startChildServer(args)
    try {
      expect((await fetch(`http://127.0.0.1:${plain.port}/login?name=Ann`)).status).toBe(404)
    } finally {
      await plain.kill()
    }
    const child = await startChildServer([...args, '--jwt-secret', 'cli-examples-secret'])
    try {
      const res = await fetch(`http://127.0.0.1:${child.port}/login?name=Ann`)
      expect(res.status).toBe(200)
      const { token, expiresAt } = (await res.json()) as { token: string; expiresAt: number }
      expect(expiresAt).toBeGreaterThan(Date.now())
      const room = connect({ url: child.url, room: 'r', token, WebSocket: WebSocket as unknown as WebSocketConstructor })
      try {
        await room.whenSynced()
        expect(room.doc.getMap('counters').has('votes')).toBe(true)
      } finally {
        room.destroy()
      }
    } finally {
      await child.kill()
    }
  })

  it('--actions naming a missing module exits with a message', async () => {
    await expect(startChildServer(['--data', ':memory:', '--actions', 'no/such/actions.mjs'])).rejects.toThrow(/no such file/)
  })
})
