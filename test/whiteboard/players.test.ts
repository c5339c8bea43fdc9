/**
 * Runs examples/players as a separate process (as a user would) and checks what it prints:
 * once against its own in-process server (with a restart on the same LevelDB directory),
 * once against a real server started here.
 */
import { spawn } from 'node:child_process'
import * as Y from 'yjs'
import { describe, expect, it } from 'vitest'
import { defaultPlugins } from '../../plugins/index.js'
import { startServer } from '../helpers.js'

function runExample(env: Record<string, string> = {}): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'examples/players/players.ts'], {
      cwd: process.cwd(),
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    let err = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.stderr.on('data', (d: Buffer) => (err += d.toString()))
    const timer = setTimeout(() => child.kill('SIGKILL'), 25_000)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, out, err })
    })
  })
}

/** Positions per player name, as one client printed them ("me" is the client itself). */
function seenBy(out: string): Map<string, string> {
  const views = new Map<string, string>()
  for (const m of out.matchAll(/^\[(\w+)\] sees (me|\w+) \(.*$/gm)) {
    const [line, who] = m
    const entries = line.replace(/^\[\w+\] sees /, '').split(', ')
    const view = entries
      .map((e) => e.replace(/^me /, `${who} `))
      .sort()
      .join(', ')
    views.set(who, view)
  }
  return views
}

function checkOutput(out: string): void {
  for (const name of ['ann', 'bob', 'cid']) {
    expect(out).toMatch(new RegExp(`^\\[${name}\\] joined as client \\d+; instantiated its player`, 'm'))
    expect(out).toMatch(new RegExp(`^\\[${name}\\] sees 3 players`, 'm'))
  }
  expect(out).toMatch(/^moved 40 ticks at 20 Hz .*frames sent: ann \d+, bob \d+, cid \d+/m)
  // Every replica shows every player where its owner put it.
  const views = seenBy(out)
  expect([...views.keys()].sort()).toEqual(['ann', 'bob', 'cid'])
  expect(new Set(views.values()).size).toBe(1)
  const annX = /ann \((\d+), /.exec(views.get('bob')!)![1]

  // bob's write to ann's player is refused and rolled back to ann's value; nobody else saw it.
  expect(out).toMatch(/^\[bob\] rejected by the server: root\/players\/[\w-]+\/x \(owned-by-another\)$/m)
  expect(out).toContain(`[bob] rolled back: ann's x is ${annX} again (source 'rollback')`)
  expect(out).toContain('[ann] ever saw x=999: no')
  expect(out).toContain('[cid] ever saw x=999: no')

  // cid leaves: the server removes its player; the scoreboard keeps all three entries.
  expect(out).toContain("[ann] player 'cid' was removed (remote: its owner left)")
  expect(out).toContain('[ann] now sees 2 players; the scoreboard still has 3 entries')

  // After everyone left, a new client finds no players and the same scores.
  const scores = /^scores: (.*)$/m.exec(out)![1]
  expect(scores).toMatch(/^ann \d+, bob \d+, cid \d+$/)
  expect(scores).not.toBe('ann 0, bob 0, cid 0')
  expect(out).toContain(`[dan] reconnected: 0 players, scoreboard: ${scores}`)
  expect(out.trimEnd().endsWith('done')).toBe(true)
}

describe('examples/players', () => {
  it('runs on its own in-process server, restarts it, and prints what happened', async () => {
    const { code, out, err } = await runExample()
    expect(code, err).toBe(0)
    checkOutput(out)
    expect(out).toContain('server restarted on the same LevelDB directory')
  })

  it('runs against a separately started server (YROOM_URL)', async () => {
    const s = await startServer({ plugins: defaultPlugins() })
    try {
      const { code, out, err } = await runExample({ YROOM_URL: s.url, PLAYERS_ROOM: 'players-test' })
      expect(code, err).toBe(0)
      checkOutput(out)
      expect(out).toContain(`room 'players-test' on ${s.url}`)
      // The example's clients really were this server's: the room is (still) here with the scores.
      const names = await s.server.rooms.read('players-test', (doc) => {
        const board = doc.getMap('root').get('scoreboard') as Y.Map<unknown>
        return [...board.entries()].flatMap(([k, v]) => (k !== '$meta' && v instanceof Y.Map ? [v.get('name')] : [])).sort()
      })
      expect(names).toEqual(['ann', 'bob', 'cid'])
    } finally {
      await s.close()
    }
  })
})
