/**
 * Connection events and offline edits: the room keeps working while disconnected and
 * merges on reconnect. Run: npx tsx examples/sdk/offline.ts
 */
import { connect, defineModel, prop } from '../../src/index.js'
import { eventually, runIfMain, withServer } from './_setup.js'

const Todo = defineModel('Todo', { text: prop.string(''), done: prop.boolean(false) })
const List = defineModel('List', { todos: prop.set(Todo) })

export async function main(): Promise<string[]> {
  const log: string[] = []
  await withServer(async (url) => {
    const phone = connect({ url, room: 'offline-example', model: List })
    const laptop = connect({ url, room: 'offline-example', model: List })
    phone.on('status', (e) => log.push(`phone: ${e.status}${e.reason ? ` (${e.reason})` : ''}`))
    await Promise.all([phone.whenSynced(), laptop.whenSynced()])

    phone.disconnect() // e.g. the train enters a tunnel
    phone.datastore.root.todos.add({ text: 'buy milk' })
    laptop.datastore.root.todos.add({ text: 'call mom' })
    log.push(`offline, phone sees ${phone.datastore.root.todos.size} todo(s)`)

    phone.connect() // automatic after network errors; explicit after disconnect()
    await phone.whenSynced()
    await eventually(() => phone.datastore.root.todos.size === 2 && laptop.datastore.root.todos.size === 2)
    const texts = (r: typeof phone) => r.datastore.root.todos.toArray().map((t) => t.text).sort().join(', ')
    log.push(`merged: phone [${texts(phone)}], laptop [${texts(laptop)}]`)
    phone.destroy()
    laptop.destroy()
  })
  return log
}

runIfMain(import.meta.url, async () => console.log((await main()).join('\n')))
