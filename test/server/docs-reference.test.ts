/**
 * The reference docs and `yroom serve --help` come from one source each (server/options.ts,
 * src/shared/protocol/close-codes.ts); these checks fail when they drift apart.
 */
import { describe, expect, it } from 'vitest'
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { SETTINGS } from '../../server/options.js'
import { CloseCode } from '../../src/shared/protocol/close-codes.js'
import { regenerate, SERVER_MD } from '../docs-reference.js'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8')

function help(): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--import', 'tsx', join(ROOT, 'server', 'cli.ts'), 'serve', '--help'], { cwd: ROOT }, (err, stdout) =>
      err ? reject(err) : resolve(stdout),
    )
  })
}

describe('reference docs', () => {
  it('docs/server.md holds the generated options and close-code tables (regenerate: node --import tsx test/docs-reference.ts --write)', () => {
    const md = readFileSync(SERVER_MD, 'utf8')
    expect(regenerate(md)).toBe(md)
  })

  it('no other doc repeats the options or close-code table', () => {
    for (const path of ['README.md', 'docs/security.md', 'docs/protocol.md', 'docs/spec.md', 'docs/sdk.md']) {
      const text = read(path)
      expect(text, path).not.toMatch(/^\| *`?maxDocumentBytes/m)
      expect(text, path).not.toMatch(/^\| *`?(1002|4413|4422)\b/m)
    }
  })

  it('SETTINGS describes every field of ServerOptions', () => {
    const src = read('server/options.ts')
    const body = src.slice(src.indexOf('export interface ServerOptions {'), src.indexOf('\n}', src.indexOf('export interface ServerOptions {')))
    const fields = [...body.matchAll(/^ {2}(\w+)\?:/gm)].map((m) => m[1])
    expect(fields.length).toBeGreaterThan(20)
    for (const f of fields) expect(SETTINGS.map((s) => s.option), f).toContain(f)
  })

  it('--help lists every flag the CLI parses, --host and --actions among them', async () => {
    const out = await help()
    const flags = SETTINGS.flatMap((s) => (s.flag === undefined ? [] : [s.flag]))
    expect(flags).toEqual(expect.arrayContaining(['host', 'actions', 'static', 'data', 'no-authority', 'reconnect-grace-ms']))
    for (const f of flags) expect(out, f).toMatch(new RegExp(`^ {2}--${f}\\b`, 'm'))
  })

  it('server/cli.ts reads exactly the flags SETTINGS declares, each onto the option SETTINGS names', () => {
    const cli = read('server/cli.ts')
    // parseArgs is configured from SETTINGS, so a flag read here but not declared would be
    // rejected as unknown, and a declared one not read here would be silently ignored.
    const reads = [...cli.matchAll(/\b(?:text|on|num|list)\('([\w-]+)'\)/g)].map((m) => m[1])
    const declared = SETTINGS.flatMap((s) => (s.flag === undefined ? [] : [s.flag]))
    expect([...new Set(reads)].sort()).toEqual([...declared].sort())
    for (const [, option, flag] of cli.matchAll(/(\w+): (?:num|text|list)\('([\w-]+)'\)/g)) {
      const declaredAs = SETTINGS.find((s) => s.flag === flag)?.option
      // A flag that configures a plugin (e.g. reconnectGraceMs) is declared under the plugin's name.
      if (!declaredAs?.startsWith('(')) expect(declaredAs, `--${flag}`).toBe(option)
    }
  })

  it('every close code the server sends is a CloseCode (and so in the generated table)', () => {
    const sources = ['server/server.ts', 'server/room/room.ts', 'server/room/message-errors.ts', 'plugins/authority/identity.ts'].map(read).join('\n')
    const used = new Set([...sources.matchAll(/CloseCode\.(\w+)/g)].map((m) => m[1]))
    for (const name of used) expect(Object.keys(CloseCode), name).toContain(name)
    // Documented as never sent; this fails once the server starts sending it, so the table gets updated.
    expect(used.has('HEARTBEAT_TIMEOUT')).toBe(false)
  })
})
