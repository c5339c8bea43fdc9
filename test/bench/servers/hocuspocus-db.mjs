// Hocuspocus with @hocuspocus/extension-database storing each document's state
// (Y.encodeStateAsUpdate, as the extension hands it over) to one file per document in the
// directory given as the first argument; default configuration otherwise (store debounce
// 2 s, max 10 s; a document is stored and unloaded when its last client leaves). On loopback.
// Prints the bound port, and `stored <name> <bytes>` / `unloaded <name>` lines for the harness.
// SIGTERM / SIGINT: stops gracefully (pending stores flushed), then exits.
import { Server } from '@hocuspocus/server'
import { Database } from '@hocuspocus/extension-database'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

const dir = process.argv[2]
if (!dir) throw new Error('usage: hocuspocus-db.mjs <dir>')
const file = (name) => join(dir, `${encodeURIComponent(name)}.bin`)

const server = new Server({
  port: 0,
  address: '127.0.0.1',
  quiet: true,
  extensions: [
    new Database({
      fetch: async ({ documentName }) => {
        try {
          return new Uint8Array(await readFile(file(documentName)))
        } catch (err) {
          if (err.code === 'ENOENT') return null
          throw err
        }
      },
      store: async ({ documentName, state }) => {
        await writeFile(file(documentName), state)
        console.log(`stored ${documentName} ${state.length}`)
      },
    }),
  ],
  async afterUnloadDocument({ documentName }) {
    console.log(`unloaded ${documentName}`)
  },
})
await server.listen()
console.log(`hocuspocus listening on port ${server.address.port}`)

let stopping = false
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, async () => {
    if (stopping) return
    stopping = true
    await server.destroy()
    process.exit(0)
  })
}
