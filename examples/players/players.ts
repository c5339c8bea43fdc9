/**
 * Scripted players (Node): several SDK clients join one room. Each instantiates its own
 * player (owned, destroyWhenOwnerOrLastClientLeaves) and its scoreboard entry (persistent),
 * and they move at 20 Hz. Then one player tries to move another's player: the server
 * refuses, the change rolls back, nobody else ever sees it. When a player leaves, the server
 * removes its player model. After everyone left (and, with the built-in server, a server
 * restart on the same LevelDB directory), a new client reconnects: the players are gone,
 * the scoreboard is still there.
 *
 * Run:  npx tsx examples/players/players.ts
 *       YROOM_URL=ws://localhost:1234 npx tsx examples/players/players.ts   (a running server)
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { connect, defineModel, prop, type InstanceOf, type Room } from '../../src/index.js'
import { createServer, type YroomServer } from '../../server/index.js'
import { defaultPlugins } from '../../plugins/index.js'

const Player = defineModel('Player', { name: prop.string(''), x: prop.number(0), y: prop.number(0) })
const Score = defineModel('Score', { name: prop.string(''), points: prop.number(0) })
const Arena = defineModel('Arena', { players: prop.set(Player), scoreboard: prop.set(Score) })
type Player = InstanceOf<typeof Player>
type Score = InstanceOf<typeof Score>
type ArenaRoom = Room<typeof Arena>

const NAMES = ['ann', 'bob', 'cid']
const TICKS = 40 // 2 s at 20 Hz
const TICK_MS = 50
/** A player scores a point on each tick it spends in the goal zone (x >= GOAL_X). */
const GOAL_X = 170

const log = (who: string, text: string) => console.log(`[${who}] ${text}`)

/** Where player `i` is at `tick`: a circle around (100, 100), each player a third of a turn apart. */
function position(i: number, tick: number): { x: number; y: number } {
  const a = (i * 2 * Math.PI) / NAMES.length + tick * 0.2
  return { x: Math.round(100 + 80 * Math.cos(a)), y: Math.round(100 + 80 * Math.sin(a)) }
}

/** Resolves when `check()` holds (polled; the SDK has applied remote updates by then). */
function until(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now()
    const poll = () => {
      if (check()) return resolve()
      if (Date.now() - started > timeoutMs) return reject(new Error(`timed out waiting for ${what}`))
      setTimeout(poll, 10)
    }
    poll()
  })
}

interface Client {
  name: string
  room: ArenaRoom
  me: Player
  score: Score
  /** Values of x this client saw arrive from elsewhere (the server), for any player. */
  remoteX: number[]
}

const players = (c: Client) => [...c.room.datastore.root.players].sort((a, b) => a.name.localeCompare(b.name))
const nameOf = (c: Client, p: Player) => (p.ownerIDSelf === c.room.clientID ? 'me' : p.name)

async function joinRoom(url: string, roomName: string, name: string): Promise<Client> {
  const room = connect({ url, room: roomName, model: Arena })
  await room.whenSynced()
  const root = room.datastore.root
  // Owned by this client; the server deletes it when this client leaves.
  const me = room.datastore.instantiate(Player, { in: root.players, ownedByClient: true, destroyWhenOwnerOrLastClientLeaves: true, init: { name } })
  // Persistent: survives its owner leaving, the room unloading and a server restart.
  const score = room.datastore.instantiate(Score, { in: root.scoreboard, ownedByClient: true, destroyWhenOwnerOrLastClientLeaves: false, init: { name } })
  log(name, `joined as client ${room.clientID}; instantiated its player (owned, destroyWhenOwnerOrLastClientLeaves) and its score (persistent)`)
  const client: Client = { name, room, me, score, remoteX: [] }
  const watch = (p: Player) => p.on('xDidChange', (e) => e.source !== 'local' && client.remoteX.push(e.value))
  for (const p of root.players) watch(p)
  root.players.on('modelAdded', (e) => e.source !== 'local' && watch(e.model))
  return client
}

async function play(clients: Client[]): Promise<void> {
  let updates = 0
  for (const c of clients) {
    for (const p of players(c)) if (p.ownerIDSelf !== c.room.clientID) p.on('xDidChange', (e) => e.source === 'remote' && updates++)
  }
  const started = Date.now()
  for (let tick = 1; tick <= TICKS; tick++) {
    clients.forEach((c, i) => {
      const pos = position(i, tick)
      c.room.datastore.transact(() => {
        c.me.x = pos.x
        c.me.y = pos.y
        if (pos.x >= GOAL_X) c.score.points += 1
      })
    })
    await new Promise((r) => setTimeout(r, TICK_MS))
  }
  const frames = clients.map((c) => `${c.name} ${c.room.framesSent}`).join(', ')
  // Every replica converges on every owner's final position.
  await until(() => clients.every((c) => players(c).every((p) => clients.some((o) => o.me.name === p.name && o.me.x === p.x && o.me.y === p.y))), 'final positions')
  console.log(`moved ${TICKS} ticks at 20 Hz in ${((Date.now() - started) / 1000).toFixed(1)} s; frames sent: ${frames}; x updates received by the others: ${updates}`)
  for (const c of clients) {
    const seen = players(c)
      .map((p) => `${nameOf(c, p)} (${p.x}, ${p.y})`)
      .join(', ')
    log(c.name, `sees ${seen}`)
  }
}

async function trespass(clients: Client[]): Promise<void> {
  const [ann, bob, cid] = clients
  const annOnBob = players(bob).find((p) => p.name === 'ann')!
  const before = annOnBob.x
  let rolledBack: number | null = null
  annOnBob.on('xDidChange', (e) => {
    if (e.source === 'rollback') rolledBack = e.value
  })
  const rejections: string[] = []
  bob.room.on('rejected', (r) => rejections.push(`${r.path.join('/')} (${r.reason})`))
  log('bob', `moves ann's player: x ${before} -> 999 (ann owns it)`)
  annOnBob.x = 999
  log('bob', `locally x is ${annOnBob.x} for now`)
  await until(() => rejections.length > 0 && rolledBack !== null, "bob's rollback")
  log('bob', `rejected by the server: ${rejections.join(', ')}`)
  log('bob', `rolled back: ann's x is ${rolledBack} again (source 'rollback')`)
  // A barrier: bob's next accepted change reaches the others after anything the server sent
  // them about his refused one (the server handles a connection's messages in order).
  bob.me.x += 1
  const barrier = bob.me.x
  await until(() => [ann, cid].every((c) => players(c).find((p) => p.name === 'bob')?.x === barrier), "bob's next change")
  for (const c of [ann, cid]) log(c.name, `ever saw x=999: ${c.remoteX.includes(999) ? 'yes' : 'no'}`)
}

async function leave(clients: Client[]): Promise<Record<string, number>> {
  const [ann, bob, cid] = clients
  const scores = Object.fromEntries(clients.map((c) => [c.name, c.score.points]))
  console.log(`scores: ${formatScores(scores)}`)
  ann.room.datastore.root.players.on('modelRemoved', (e) => log('ann', `player '${e.model.name}' was removed (${e.source}: its owner left)`))
  cid.room.destroy()
  log('cid', 'left')
  await until(() => players(ann).length === 2 && players(bob).length === 2, "cid's player to go")
  log('ann', `now sees ${players(ann).length} players; the scoreboard still has ${ann.room.datastore.root.scoreboard.size} entries`)
  ann.room.destroy()
  bob.room.destroy()
  console.log('ann and bob left')
  return scores
}

function formatScores(scores: Record<string, number>): string {
  return Object.entries(scores)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([n, p]) => `${n} ${p}`)
    .join(', ')
}

/** A new client joins after everyone left: no players (destroyed with their owners), the scoreboard persists. */
async function reconnect(url: string, roomName: string): Promise<void> {
  const room = connect({ url, room: roomName, model: Arena })
  await room.whenSynced()
  const root = room.datastore.root
  // Against a running server, the leavers' sockets may close just after dan joined: their
  // players go as soon as the server sees them leave.
  await until(() => root.players.size === 0, 'the players of the clients that left to be removed')
  const scores = Object.fromEntries([...root.scoreboard].map((s) => [s.name, s.points]))
  log('dan', `reconnected: ${root.players.size} players, scoreboard: ${formatScores(scores)}`)
  room.destroy()
}

async function startServer(dir: string): Promise<{ server: YroomServer; url: string }> {
  const server = await createServer({ host: '127.0.0.1', port: 0, storage: dir, logger: 'silent', processMetrics: false, plugins: defaultPlugins() })
  const port = await server.listen()
  return { server, url: `ws://127.0.0.1:${port}` }
}

export async function main(): Promise<void> {
  const roomName = process.env.PLAYERS_ROOM ?? `players-${Math.random().toString(36).slice(2, 8)}`
  const external = process.env.YROOM_URL
  const dataDir = external ? null : mkdtempSync(join(tmpdir(), 'yroom-players-'))
  let local = dataDir ? await startServer(dataDir) : null
  const url = external ?? local!.url
  console.log(`room '${roomName}' on ${external ? url : `an in-process server (${url}, LevelDB in ${dataDir})`}`)
  try {
    const clients: Client[] = []
    for (const name of NAMES) clients.push(await joinRoom(url, roomName, name))
    await until(() => clients.every((c) => players(c).length === NAMES.length), 'everyone to see everyone')
    for (const c of clients) log(c.name, `sees ${players(c).length} players: ${players(c).map((p) => nameOf(c, p)).join(', ')}`)
    await play(clients)
    await trespass(clients)
    await leave(clients)
    if (local && dataDir) {
      await local.server.close()
      local = await startServer(dataDir)
      console.log('server restarted on the same LevelDB directory')
    }
    await reconnect(local?.url ?? url, roomName)
  } finally {
    await local?.server.close()
    if (dataDir) rmSync(dataDir, { recursive: true, force: true })
  }
  console.log('done')
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    () => process.exit(0),
    (err) => {
      console.error(err)
      process.exit(1)
    },
  )
}
