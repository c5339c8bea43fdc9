/**
 * Actions (SPEC §8, the Skilift model), server and client in one file: action sets shared by
 * both, the actions plugin with a migration that creates a server-owned wallet, a counter a
 * client creates with `instantiate({ actions })`, `room.patch` / `room.updated`, refusals
 * (by the action, by the schema, by strict mode), the rollback of a direct write to an
 * action-only model, and backend code running an action while clients are connected.
 * Run: npx tsx examples/sdk/actions.ts   (always starts its own in-process server)
 *
 * The module also works as `yroom serve --actions` module (it exports `actionSets` and
 * `migrations`): npx tsx server/cli.ts serve --data :memory: --actions examples/sdk/actions.ts
 */
import * as Y from 'yjs'
// In an application: from 'yroom' and 'yroom/server'.
import { ActionRefused, connect, defineActions, defineModel, prop, type StandardSchema } from '../../src/index.js'
import { actionsPlugin, createServer, defaultPlugins, type Migration } from '../../server/index.js'
import { eventually, runIfMain } from './_setup.js'

// ---- Shared by client and server code --------------------------------------------------

/** A tiny Standard Schema (zod, valibot, arktype... work the same): whole, non-negative balances. */
const wholeBalance: StandardSchema = {
  '~standard': {
    version: 1,
    vendor: 'example',
    validate: (value) => {
      const b = (value as { balance?: unknown }).balance
      return Number.isInteger(b) && (b as number) >= 0 ? { value } : { issues: [{ message: `balance must be a whole number ≥ 0, got ${String(b)}` }] }
    },
  },
}

export const walletActions = defineActions(
  {
    deposit: (data: { balance: number }, amount: number) => {
      data.balance += amount
    },
    withdraw: (data: { balance: number }, amount: number) => {
      if (data.balance < amount) throw new ActionRefused('insufficient-funds', `balance ${data.balance} < ${amount}`)
      data.balance -= amount
    },
    /** Not deterministic: strict mode (on unless NODE_ENV=production) refuses it. */
    lottery: (data: { balance: number }) => {
      data.balance += Math.floor(Math.random() * 1000)
    },
  },
  { name: 'example-wallet', actionOnly: true, schema: wholeBalance },
)

export const counterActions = defineActions(
  {
    increment: (data: { value: number }, by: number = 1) => {
      data.value += by
    },
  },
  { name: 'example-counter', actionOnly: true },
)

/** The SDK model type of the counter: a typed view; actions see its plain data. */
const Counter = defineModel('Counter', { value: prop.number(0) })

// ---- Server side ---------------------------------------------------------------------

/** Server-owned models (ownerID 0) are made by backend code: here a migration, run once per room. */
export const migrations: Migration[] = [
  {
    name: 'example: bank wallet',
    up(doc: Y.Doc) {
      const bank = doc.getMap('bank')
      if (bank.has('wallet')) return
      const wallet = new Y.Map<unknown>()
      const meta = new Y.Map<unknown>()
      meta.set('ownerID', 0) // server-owned: no client may take it or write it directly
      meta.set('actions', walletActions.name)
      wallet.set('$meta', meta)
      wallet.set('balance', 100)
      bank.set('wallet', wallet)
    },
  },
]

/** What `yroom serve --actions <this file>` loads. */
export const actionSets = [walletActions, counterActions]

// ---- The walk-through ---------------------------------------------------------------

export async function main(): Promise<string[]> {
  const log: string[] = []
  const actions = actionsPlugin({ sets: actionSets, migrations, strict: true })
  const server = await createServer({
    host: '127.0.0.1',
    port: 0,
    storage: ':memory:',
    logger: 'silent',
    processMetrics: false,
    plugins: [...defaultPlugins(), actions],
  })
  const url = `ws://127.0.0.1:${await server.listen()}`
  const room = 'actions-example'
  try {
    // Clients register the same sets: `patch` runs them locally for the optimistic view.
    const alice = connect({ url, room, actions: actionSets })
    const bob = connect({ url, room, actions: actionSets })
    await Promise.all([alice.whenSynced(), bob.whenSynced()])

    // 1. A client-created action model: unowned, so anyone may call its actions.
    const counter = alice.datastore.instantiate(Counter, { ownedByClient: false, actions: counterActions })
    await eventually(() => [...bob.datastore.instancesOf(Counter)].length === 1)
    const bobsCounter = [...bob.datastore.instancesOf(Counter)][0]
    await Promise.all([
      ...Array.from({ length: 10 }, () => alice.patch(counter, 'increment', 1)),
      ...Array.from({ length: 10 }, () => bob.patch(bobsCounter, 'increment', 1)),
    ])
    await eventually(() => counter.value === 20 && bobsCounter.value === 20)
    log.push(`counter: ${counter.value} after 2 × 10 concurrent increments`)

    // Action-only: a direct write shows locally, the server rolls it back.
    bob.on('rejected', (r) => log.push(`bob: direct write to ${r.path.join('/')} rejected: ${r.reason}`))
    bobsCounter.value = 99
    await eventually(() => bobsCounter.value === 20 && log.some((l) => l.startsWith('bob: direct write')))
    log.push(`bob reads counter = ${bobsCounter.value} again`)

    // 2. The server-owned wallet (made by the migration when the room loaded).
    const wallet = alice.doc.getMap('bank').get('wallet') as Y.Map<unknown>
    const seen: number[] = []
    const stop = alice.updated(wallet, (snapshot) => seen.push(snapshot.balance as number)) // deeply frozen
    log.push(`withdraw 30 -> ${JSON.stringify(await alice.patch(wallet, 'withdraw', 30))}`)
    for (const [name, arg] of [['withdraw', 500], ['deposit', 0.5], ['lottery', null]] as const) {
      try {
        await alice.patch(wallet, name, ...(arg === null ? [] : [arg]))
      } catch (err) {
        // The optimistic overlay is dropped; `updated` shows the server's state again.
        if (err instanceof ActionRefused) log.push(`${name} refused: ${err.reason}`)
        else throw err
      }
    }

    // 3. Backend code: the same actions, on the running server, in its process.
    const out = await actions.run(server.rooms, room, ['bank', 'wallet'], 'deposit', [50])
    log.push(`backend deposit 50 -> ${JSON.stringify(out.data)}`)
    await eventually(() => wallet.get('balance') === 120)
    stop()
    log.push(`alice's updated() snapshots: ${seen.length}, the last balance ${seen.at(-1)}`)
    alice.destroy()
    bob.destroy()
  } finally {
    await server.close()
  }
  return log
}

runIfMain(import.meta.url, async () => console.log((await main()).join('\n')))
