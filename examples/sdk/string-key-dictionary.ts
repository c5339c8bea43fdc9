/**
 * StringKeyDictionary: transactional string keys. Two clients race for the same key; the
 * server confirms exactly one. Run: npx tsx examples/sdk/string-key-dictionary.ts
 */
import { connect, defineModel, prop } from '../../src/index.js'
import { runIfMain, withServer } from './_setup.js'

const Reservation = defineModel('Reservation', { by: prop.string('') })
const Venue = defineModel('Venue', { seats: prop.stringKeyDictionary(Reservation) })

export async function main(): Promise<string[]> {
  const log: string[] = []
  await withServer(async (url) => {
    const ann = connect({ url, room: 'skd-example', model: Venue })
    const ben = connect({ url, room: 'skd-example', model: Venue })
    await Promise.all([ann.whenSynced(), ben.whenSynced()])

    // Both ask for seat A1 at the same time. Nothing is visible until the server decides.
    const [annGot, benGot] = await Promise.all([
      ann.datastore.root.seats.insert('A1', { by: 'ann' }),
      ben.datastore.root.seats.insert('A1', { by: 'ben' }),
    ])
    log.push(`ann: ${annGot}, ben: ${benGot}`)
    // When insert resolves true the change is already in the local document.
    const winner = annGot ? ann : ben
    log.push(`A1 is held by ${winner.datastore.root.seats.get('A1')!.by}`)

    const loser = annGot ? ben : ann
    log.push(`loser takes A2: ${await loser.datastore.root.seats.insert('A2', { by: annGot ? 'ben' : 'ann' })}`)
    log.push(`winner releases A1: ${await winner.datastore.root.seats.remove('A1')}`)
    log.push(`seats now: ${[...winner.datastore.root.seats.keys()].join(', ')}`)
    ann.destroy()
    ben.destroy()
  })
  return log
}

runIfMain(import.meta.url, async () => console.log((await main()).join('\n')))
