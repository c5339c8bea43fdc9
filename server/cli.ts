#!/usr/bin/env node
/**
 * `yroom serve [options]`: the flags and their help come from SETTINGS (options.ts), so this
 * file only maps the parsed values onto createServer's options.
 * Loads no example code by itself (SPEC §10): `npm start` passes --static and --actions.
 * `yroom repair [--data ./data] [--room NAME] [--dry-run]` (damaged storage, see storage/repair.ts)
 */
import { parseArgs } from 'node:util'
import { existsSync, readFileSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import { resolve } from 'node:path'
import { createServer } from './server.js'
import { defaultPlugins } from '../plugins/index.js'
import { actionsPlugin } from '../plugins/actions/index.js'
import { inspectorPlugin } from '../plugins/inspector/index.js'
import type { YroomPlugin } from './plugin.js'
import { DEFAULTS, SETTINGS, shownDefault, type Setting } from './options.js'
import { REPAIR_USAGE, repairCommand } from './storage/repair.js'
import { otherYjsCopies, YJS_COPIES_HELP } from '../src/shared/yjs-copies.js'

/** The room inspector (docs/inspector.md): open with --inspect (development), else behind the API key. */
function inspector(open: boolean, apiKey: string | undefined): YroomPlugin[] {
  return open || apiKey ? [inspectorPlugin({ open, apiKey })] : []
}

/** What an `--actions` module's optional `plugins` function is given. */
export interface AppModuleContext {
  /** `--jwt-secret`, when set: an app may sign its users' tokens with it (the whiteboard's demo login). */
  jwtSecret?: string
}

/**
 * Loads `--actions MODULE`: `export const actionSets = [...]`, optional `export const
 * migrations = [...]`, optional `export function plugins(ctx: AppModuleContext)` returning
 * more plugins (the app's own HTTP routes, for example).
 */
async function loadActions(file: string | undefined, ctx: AppModuleContext): Promise<YroomPlugin[]> {
  if (!file) return []
  if (!existsSync(file)) throw new Error(`--actions ${file}: no such file (npm start needs the built examples: npm run build:whiteboard)`)
  const mod = (await import(pathToFileURL(resolve(file)).href)) as Partial<Pick<Parameters<typeof actionsPlugin>[0], 'migrations'>> & {
    actionSets?: Parameters<typeof actionsPlugin>[0]['sets']
    plugins?: (ctx: AppModuleContext) => YroomPlugin[]
  }
  if (!Array.isArray(mod.actionSets)) throw new Error(`--actions ${file}: the module must export an array 'actionSets'`)
  if (mod.plugins !== undefined && typeof mod.plugins !== 'function') throw new Error(`--actions ${file}: 'plugins' must be a function`)
  return [actionsPlugin({ sets: mod.actionSets, migrations: mod.migrations }), ...(mod.plugins?.(ctx) ?? [])]
}

/** `--jwt-public-key FILE`: the PEM text, or exit 2 with why. */
function readKeyFile(file: string | undefined): string | undefined {
  if (file === undefined) return undefined
  try {
    return readFileSync(file, 'utf8')
  } catch (err) {
    console.error(`yroom: --jwt-public-key ${file}: ${(err as Error).message}`)
    process.exit(2)
  }
}

const HELP_COLUMN = 27
const HELP_WIDTH = 100

/** `  --flag VALUE   help (default X)`, wrapped at HELP_WIDTH; Markdown code spans become plain text. */
function usageEntry(s: Setting & { flag: string }): string {
  const def = s.value === undefined ? undefined : shownDefault(s) // a switch has no default to show
  const words = `${s.help}${def === undefined ? '' : ` (default ${def})`}`.replaceAll('`', '').split(' ')
  const lines = ['']
  for (const w of words) {
    const line = lines[lines.length - 1]
    if (line && HELP_COLUMN + line.length + 1 + w.length > HELP_WIDTH) lines.push(w)
    else lines[lines.length - 1] = line ? `${line} ${w}` : w
  }
  const head = `  --${s.flag}${s.value === undefined ? '' : ` ${s.value}`}`
  const indent = ' '.repeat(HELP_COLUMN)
  const first = head.length < HELP_COLUMN ? head.padEnd(HELP_COLUMN) + lines.shift() : head
  return [first, ...lines.map((l) => indent + l)].join('\n')
}

const FLAGS = SETTINGS.filter((s): s is Setting & { flag: string } => s.flag !== undefined)

const USAGE = [
  'usage: yroom serve [options]',
  ...FLAGS.map(usageEntry),
  `${'  -h, --help'.padEnd(HELP_COLUMN)}print this help`,
].join('\n')

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
  const flags: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = { help: { type: 'boolean', short: 'h' } }
  for (const s of FLAGS) flags[s.flag] = { type: s.value === undefined ? 'boolean' : 'string', ...(s.multiple ? { multiple: true } : {}) }
  const { values, positionals } = parseArgs({ allowPositionals: true, options: flags })
  // The flags are data, so parseArgs cannot type them: read each as what SETTINGS declares.
  const text = (flag: string): string | undefined => {
    const v = values[flag]
    return typeof v === 'string' ? v : undefined
  }
  const on = (flag: string): boolean => values[flag] === true
  /** A repeatable flag (`multiple` in SETTINGS): every value given. */
  const list = (flag: string): string[] | undefined => {
    const v = values[flag]
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : undefined
  }
  const num = (flag: string): number | undefined => int(text(flag), flag)
  if (values.help || positionals[0] !== 'serve') {
    console.log(`${USAGE}\n\n${REPAIR_USAGE}`)
    process.exit(values.help ? 0 : 2)
  }
  // SPEC §10: what runs is what the flags name. No example code (action sets, migrations,
  // static pages) is loaded unless asked for; `npm start` names the examples explicitly.
  const jwtSecret = text('jwt-secret') ?? (process.env.YROOM_JWT_SECRET || undefined)
  const actions = await loadActions(text('actions'), { jwtSecret })
  // An --actions module that brings its own Yjs (bundled, or CommonJS) would build
  // migrations' Y.Map objects the server's Yjs does not recognise: refuse to start.
  const copies = otherYjsCopies()
  if (copies.length > 0) throw new Error(`two copies of Yjs are loaded (${copies.join('; ')}). ${YJS_COPIES_HELP}`)
  // Each `option: num(…)` pair must match SETTINGS (test/server/docs-reference.test.ts checks it).
  const server = await createServer({
    port: num('port'),
    host: text('host'),
    storage: text('data') ?? DEFAULTS.storage,
    tickMs: num('tick-ms'),
    adaptiveTick: !on('no-adaptive-tick'),
    applyDelayMs: num('apply-delay-ms'),
    idleShutdownMs: num('idle-shutdown-ms'),
    heartbeatMs: num('heartbeat-ms'),
    maxMessageBytes: num('max-message-bytes'),
    maxDocumentBytes: num('max-document-bytes'),
    maxNestingDepth: num('max-nesting-depth'),
    maxAwarenessIdsPerConnection: num('max-awareness-ids'),
    maxConnections: num('max-connections'),
    maxConnectionsPerAddress: num('max-connections-per-address'),
    headersTimeoutMs: num('headers-timeout-ms'),
    maxBufferedBytes: num('max-buffered-bytes'),
    messagesPerSecond: num('messages-per-second'),
    messageBurst: num('message-burst'),
    bytesPerSecond: num('bytes-per-second'),
    maxPendingBytes: num('max-pending-bytes'),
    leaseMs: num('lease-ms'),
    nodeId: text('node-id'),
    redis: text('redis'),
    jwtSecret,
    jwtPublicKey: readKeyFile(text('jwt-public-key')),
    jwksUrl: text('jwks-url'),
    jwtIssuer: text('jwt-issuer'),
    jwtAudience: text('jwt-audience'),
    tokenRefreshGraceMs: num('token-refresh-grace-ms'),
    apiKey: text('api-key') ?? (process.env.YROOM_API_KEY || undefined),
    webhooks: list('webhook'),
    webhookSecret: text('webhook-secret') ?? (process.env.YROOM_WEBHOOK_SECRET || undefined),
    advertiseUrl: text('advertise-url'),
    plugins: [...defaultPlugins({ authority: !on('no-authority'), reconnectGraceMs: num('reconnect-grace-ms') ?? 0 }), ...actions, ...inspector(on('inspect'), text('api-key') ?? (process.env.YROOM_API_KEY || undefined))],
    processMetrics: !on('no-process-metrics'),
    staticDir: text('static'),
    // Explicitly 'info': the CLI logs even when started from a test run (createServer would be silent).
    logger: text('log-level') ?? 'info',
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
