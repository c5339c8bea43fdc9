/**
 * Frame batching: every local change within one datastoreFrameDuration goes to the server
 * as one merged update; flush() sends the frame now. Run: npx tsx examples/sdk/frame-batching.ts
 */
import { connect, defineModel, prop } from '../../src/index.js'
import { eventually, runIfMain, withServer } from './_setup.js'

const Cursor = defineModel('Cursor', { x: prop.number(0), y: prop.number(0) })

export async function main(): Promise<string[]> {
  const log: string[] = []
  await withServer(async (url) => {
    // 10 frames per second instead of the default 20.
    const room = connect({ url, room: 'frames-example', model: Cursor, datastoreFrameDuration: 1 / 10 })
    const watcher = connect({ url, room: 'frames-example', model: Cursor })
    await Promise.all([room.whenSynced(), watcher.whenSynced()])
    room.on('frame', (bytes) => log.push(`frame sent: ${bytes} bytes`))

    const cursor = room.datastore.root
    for (let i = 1; i <= 100; i++) {
      cursor.x = i // 200 separate writes ...
      cursor.y = i * 2
    }
    await eventually(() => watcher.datastore.root.x === 100)
    log.push(`... went out in ${room.framesSent} frame(s)`)

    cursor.x = 0
    room.flush() // don't wait for the end of the frame
    await eventually(() => watcher.datastore.root.x === 0)
    log.push(`after flush(): ${room.framesSent} frame(s)`)
    room.destroy()
    watcher.destroy()
  })
  return log
}

runIfMain(import.meta.url, async () => console.log((await main()).join('\n')))
