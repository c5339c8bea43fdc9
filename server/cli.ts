#!/usr/bin/env node
/**
 * `yroom serve [--port 1234] [--data ./data] [--tick-ms 50] [--apply-delay-ms 10] [--idle-shutdown-ms 30000]
 *              [--heartbeat-ms 30000] [--max-message-bytes N] [--reconnect-grace-ms 0]
 *              [--no-authority] [--no-process-metrics] [--static DIR] [--actions MODULE] [--log-level info]`
 * Loads no example code by itself (SPEC §10): `npm start` passes --static and --actions.
 * `yroom repair [--data ./data] [--room NAME] [--dry-run]` (damaged storage, see storage/repair.ts)
 */
import { parseArgs } from 'node:util'
import { existsSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import { resolve } from 'node:path'
import { createServer } from './server.js'
import { defaultPlugins } from '../plugins/index.js'
import { actionsPlugin } from '../plugins/actions/index.js'
import type { YroomPlugin } from './plugin.js'
import { REPAIR_USAGE, repairCommand } from './storage/repair.js'
import { otherYjsCopies, YJS_COPIES_HELP } from '../src/shared/yjs-copies.js'

/** Loads `--actions MODULE`: `export const actionSets = [...]`, optional `export const migrations = [...]`. */
async function loadActions(file: string | undefined): Promise<YroomPlugin[]> {
  if (!file) return []
  if (!existsSync(file)) throw new Error(`--actions ${file}: no such file (npm start needs the built examples: npm run build:whiteboard)`)
  const mod = (await import(pathToFileURL(resolve(file)).href)) as Partial<Pick<Parameters<typeof actionsPlugin>[0], 'migrations'>> & {
    actionSets?: Parameters<typeof actionsPlugin>[0]['sets']
  }
  if (!Array.isArray(mod.actionSets)) throw new Error(`--actions ${file}: the module must export an array 'actionSets'`)
  return [actionsPlugin({ sets: mod.actionSets, migrations: mod.migrations })]
}

const USAGE = `usage: yroom serve [options]
  --port N                 port to listen on (default 1234; 0 = any free port)
  --host H                 interface to bind (default 0.0.0.0)
  --data DIR|:memory:      LevelDB directory (default ./data) or in-memory storage
  --tick-ms N              fan-out tick in ms; 0 = send after each message (default 50)
  --apply-delay-ms N       updates that might be rejected are applied within N ms, others at the
                           tick (default 10)
  --idle-shutdown-ms N     unload a room N ms after its last client leaves (default 30000)
  --heartbeat-ms N         ping interval; silent connections are closed (default 30000)
  --max-message-bytes N    largest accepted message; larger: close 1009 (default: the
                           document cap)
  --max-document-bytes N   largest a room's document may grow; past it: close 4413 (default 67108864)
  --max-nesting-depth N    deepest nesting of shared types; deeper: close 4422 (default 128)
  --max-awareness-ids N    awareness client ids one connection may publish under (default 4)
  --max-connections N      WebSocket connections in all; more: close 1013 (default 10000; 0 = no limit)
  --max-connections-per-address N
                           WebSocket connections per address (IPv6: per /64); more: close 1013
                           (default 256; 0 = no limit). Behind a reverse proxy every client has
                           the proxy's address: raise it and limit per client in the proxy
  --headers-timeout-ms N   time a client has to send its HTTP request headers (default 10000;
                           0 = no limit)
  --max-buffered-bytes N   slow consumers: unsent data allowed beyond the largest queued message
                           (default 4194304)
  --messages-per-second N  incoming messages per connection and second; a faster sender is
                           slowed by backpressure (default 1000)...
  --message-burst N        ...with this burst (default 2000)
  --bytes-per-second N     incoming bytes per connection and second, enforced the same way
                           (default 8388608)
  --max-pending-bytes N    memory for large messages still arriving, in all; over it senders
                           wait (default 268435456)
  --reconnect-grace-ms N   a leave is final after N ms (default 0)
  --no-authority           run without the authority plugin (plain Yjs relay)
  --no-process-metrics     leave Node's process metrics out of /metrics (their event-loop
                           sampler wakes an idle server every 10 ms)
  --static DIR             serve static files from DIR (default: none; npm start serves the
                           built examples, examples/whiteboard/dist)
  --actions MODULE         enable actions: an ES module exporting \`actionSets\` (and optional
                           \`migrations\`); default: none (npm start names the whiteboard's)
  --log-level LEVEL        pino level: fatal|error|warn|info|debug|trace|silent (default info)`

function int(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined
  const n = Number(v)
  if (!Number.isInteger(n) || n < 0) {
    console.error(`yroom: --${name} must be a non-negative integer, got '${v}'`)
    process.exit(2)
  }
  return n
}

async function main(): Promise<void> {
  if (process.argv[2] === 'repair') {
    process.exitCode = await repairCommand(process.argv.slice(3))
    return
  }
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      data: { type: 'string' },
      'tick-ms': { type: 'string' },
      'apply-delay-ms': { type: 'string' },
      'idle-shutdown-ms': { type: 'string' },
      'heartbeat-ms': { type: 'string' },
      'max-message-bytes': { type: 'string' },
      'max-document-bytes': { type: 'string' },
      'max-nesting-depth': { type: 'string' },
      'max-awareness-ids': { type: 'string' },
      'max-connections': { type: 'string' },
      'max-connections-per-address': { type: 'string' },
      'headers-timeout-ms': { type: 'string' },
      'max-buffered-bytes': { type: 'string' },
      'messages-per-second': { type: 'string' },
      'message-burst': { type: 'string' },
      'bytes-per-second': { type: 'string' },
      'max-pending-bytes': { type: 'string' },
      'reconnect-grace-ms': { type: 'string' },
      'no-authority': { type: 'boolean' },
      'no-process-metrics': { type: 'boolean' },
      static: { type: 'string' },
      actions: { type: 'string' },
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help || positionals[0] !== 'serve') {
    console.log(`${USAGE}\n\n${REPAIR_USAGE}`)
    process.exit(values.help ? 0 : 2)
  }
  // SPEC §10: what runs is what the flags name. No example code (action sets, migrations,
  // static pages) is loaded unless asked for; `npm start` names the examples explicitly.
  const actions = await loadActions(values.actions)
  // An --actions module that brings its own Yjs (bundled, or CommonJS) would build
  // migrations' Y.Map objects the server's Yjs does not recognise: refuse to start.
  const copies = otherYjsCopies()
  if (copies.length > 0) throw new Error(`two copies of Yjs are loaded (${copies.join('; ')}). ${YJS_COPIES_HELP}`)
  const server = await createServer({
    port: int(values.port, 'port') ?? 1234,
    host: values.host ?? '0.0.0.0',
    storage: values.data ?? './data',
    tickMs: int(values['tick-ms'], 'tick-ms'),
    applyDelayMs: int(values['apply-delay-ms'], 'apply-delay-ms'),
    idleShutdownMs: int(values['idle-shutdown-ms'], 'idle-shutdown-ms'),
    heartbeatMs: int(values['heartbeat-ms'], 'heartbeat-ms'),
    maxMessageBytes: int(values['max-message-bytes'], 'max-message-bytes'),
    maxDocumentBytes: int(values['max-document-bytes'], 'max-document-bytes'),
    maxNestingDepth: int(values['max-nesting-depth'], 'max-nesting-depth'),
    maxAwarenessIdsPerConnection: int(values['max-awareness-ids'], 'max-awareness-ids'),
    maxConnections: int(values['max-connections'], 'max-connections'),
    maxConnectionsPerAddress: int(values['max-connections-per-address'], 'max-connections-per-address'),
    headersTimeoutMs: int(values['headers-timeout-ms'], 'headers-timeout-ms'),
    maxBufferedBytes: int(values['max-buffered-bytes'], 'max-buffered-bytes'),
    messagesPerSecond: int(values['messages-per-second'], 'messages-per-second'),
    messageBurst: int(values['message-burst'], 'message-burst'),
    bytesPerSecond: int(values['bytes-per-second'], 'bytes-per-second'),
    maxPendingBytes: int(values['max-pending-bytes'], 'max-pending-bytes'),
    plugins: [
      ...defaultPlugins({
        authority: !values['no-authority'],
        reconnectGraceMs: int(values['reconnect-grace-ms'], 'reconnect-grace-ms') ?? 0,
      }),
      ...actions,
    ],
    processMetrics: !values['no-process-metrics'],
    staticDir: values.static,
    logger: values['log-level'] ?? 'info',
  })
  const port = await server.listen()
  // The test harness and scripts read this line to find the port.
  console.log(`yroom listening on ws://localhost:${port}`)
  let stopping = false
  const stop = (signal: string) => {
    if (stopping) return
    stopping = true
    server.logger.info({ signal }, 'shutting down')
    server.close().then(
      () => process.exit(0),
      (err) => {
        server.logger.error({ err }, 'shutdown failed')
        process.exit(1)
      },
    )
  }
  process.on('SIGINT', () => stop('SIGINT'))
  process.on('SIGTERM', () => stop('SIGTERM'))
}

main().catch((err) => {
  console.error('yroom:', err instanceof Error ? err.message : err)
  process.exit(1)
})
