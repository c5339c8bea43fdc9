/**
 * Typed models: a schema with inferred types, a root model, property and model change
 * events, a Y.Text, a child model. Run: npx tsx examples/sdk/models.ts
 */
import { connect, defineModel, prop, type InstanceOf } from '../../src/index.js'
import { eventually, runIfMain, withServer } from './_setup.js'

const Color = defineModel('Color', { r: prop.number(0), g: prop.number(0), b: prop.number(0) })

const Board = defineModel('Board', {
  title: prop.string('untitled'),
  locked: prop.boolean(false),
  thumbnail: prop.binary(),
  tags: prop.json<string[]>([]),
  notes: prop.text(), // a Y.Text: bind an editor to it
  background: prop.model(Color), // a child model
})
type Board = InstanceOf<typeof Board>

export async function main(): Promise<string[]> {
  const log: string[] = []
  await withServer(async (url) => {
    const alice = connect({ url, room: 'models-example', model: Board })
    const bob = connect({ url, room: 'models-example', model: Board })
    await Promise.all([alice.whenSynced(), bob.whenSynced()])

    const board: Board = bob.datastore.root
    board.on('titleDidChange', (e) => log.push(`bob sees title ${JSON.stringify(e.previous)} -> ${JSON.stringify(e.value)} (${e.source})`))
    board.background.on('change', (e) => log.push(`bob sees background ${e.changes.map((c) => `${c.key}=${c.value}`).join(', ')} (${e.source})`))

    // Writes apply at once locally; everything in one transaction fires one 'change' per model.
    alice.datastore.transact(() => {
      alice.datastore.root.title = 'Sprint planning'
      alice.datastore.root.background.r = 255
      alice.datastore.root.background.g = 200
    })
    alice.datastore.root.notes.insert(0, 'Agenda: ')
    await eventually(() => board.title === 'Sprint planning' && board.notes.toString() === 'Agenda: ')
    log.push(`bob reads: ${board.title}, rgb(${board.background.r}, ${board.background.g}, ${board.background.b}), notes "${board.notes}"`)
    // The plain Y.Doc is right there, for editor bindings or any Yjs code.
    log.push(`plain Yjs: ${JSON.stringify(bob.doc.getMap('root').get('title'))}`)
    alice.destroy()
    bob.destroy()
  })
  return log
}

runIfMain(import.meta.url, async () => console.log((await main()).join('\n')))
