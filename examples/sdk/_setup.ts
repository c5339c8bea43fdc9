/**
 * Shared by the SDK examples: runs an example against $YROOM_URL when set (e.g. a server
 * started with `npm start`), otherwise against an in-process server with the default plugins.
 */
import { pathToFileURL } from 'node:url'
import { createServer } from '../../server/index.js'
import { defaultPlugins } from '../../plugins/index.js'

export async function withServer(fn: (url: string) => Promise<void>): Promise<void> {
  const external = process.env.YROOM_URL
  if (external) return fn(external)
  const server = await createServer({
    host: '127.0.0.1',
    port: 0,
    storage: ':memory:',
    logger: 'silent',
    processMetrics: false,
    plugins: defaultPlugins(),
  })
  const port = await server.listen()
  try {
    await fn(`ws://127.0.0.1:${port}`)
  } finally {
    await server.close()
  }
}

/** Resolves once `check()` holds, re-checking after every change of `doc`-driven state (polls briefly). */
export function eventually(check: () => boolean, timeoutMs = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now()
    const tick = () => {
      if (check()) return resolve()
      if (Date.now() - started > timeoutMs) return reject(new Error('timed out'))
      setTimeout(tick, 10)
    }
    tick()
  })
}

/** Runs `main` when the file is executed directly (`npx tsx examples/sdk/<name>.ts`). */
export function runIfMain(moduleUrl: string, main: () => Promise<void>): void {
  if (process.argv[1] && moduleUrl === pathToFileURL(process.argv[1]).href) {
    main().then(
      () => process.exit(0),
      (err) => {
        console.error(err)
        process.exit(1)
      },
    )
  }
}
