/**
 * Instant updates and rollbacks: a write to a model someone else owns shows at once, the
 * server rejects it, and the change events fire again with the restored value, flagged
 * 'rollback'; the room reports the rejection with its path and reason.
 * Run: npx tsx examples/sdk/rollback.ts
 */
import { connect, defineModel, prop } from '../../src/index.js'
import { eventually, runIfMain, withServer } from './_setup.js'

const Door = defineModel('Door', { open: prop.boolean(false) })

export async function main(): Promise<string[]> {
  const log: string[] = []
  await withServer(async (url) => {
    const owner = connect({ url, room: 'rollback-example' })
    const intruder = connect({ url, room: 'rollback-example' })
    await Promise.all([owner.whenSynced(), intruder.whenSynced()])
    owner.datastore.instantiate(Door, { ownedByClient: true })
    await eventually(() => [...intruder.datastore.instancesOf(Door)].length === 1)

    const door = [...intruder.datastore.instancesOf(Door)][0]
    door.on('openDidChange', (e) => log.push(`intruder: open = ${e.value} (${e.source})`))
    intruder.on('rejected', (r) => log.push(`intruder: rejected ${r.path.join('/')}: ${r.reason}`))
    door.open = true // shows at once ...
    log.push(`intruder reads open = ${door.open}`)
    await eventually(() => door.open === false) // ... and is rolled back by the server
    log.push(`intruder reads open = ${door.open}`)
    owner.destroy()
    intruder.destroy()
  })
  return log
}

runIfMain(import.meta.url, async () => console.log((await main()).join('\n')))
