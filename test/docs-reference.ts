/**
 * The generated parts of docs/server.md: the options table, from SETTINGS (server/options.ts),
 * and the close-code table, from CLOSE_CODE_DOCS (src/shared/protocol/close-codes.ts). Each
 * sits between `<!-- NAME:start … -->` and `<!-- NAME:end -->`; everything else is hand-written.
 *   node --import tsx test/docs-reference.ts --write    regenerate them
 *   node --import tsx test/docs-reference.ts            exit 1 if they are stale
 * test/server/docs-reference.test.ts fails while they are stale.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { SETTINGS, shownDefault } from '../server/options.js'
import { CLOSE_CODE_DOCS, CloseCode, DROPPED_CLOSE_DOC } from '../src/shared/protocol/close-codes.js'

export const SERVER_MD = join(dirname(fileURLToPath(import.meta.url)), '..', 'docs', 'server.md')

/** A Markdown table cell: `|` would end the cell, even inside a code span. */
const cell = (s: string) => s.replaceAll('|', '\\|')
const row = (cells: string[]) => `| ${cells.map(cell).join(' | ')} |`

export function optionsTable(): string {
  const rows = SETTINGS.map((s) =>
    row([
      s.option.startsWith('(') ? s.option : `\`${s.option}\``,
      s.flag === undefined ? '—' : `\`--${s.flag}${s.value === undefined ? '' : ` ${s.value}`}\``,
      shownDefault(s) ?? '—',
      s.more === undefined ? s.help : `${s.help} ${s.more}`,
    ]),
  )
  return ['| option | CLI flag | default | meaning |', '| --- | --- | --- | --- |', ...rows].join('\n')
}

export function closeCodesTable(): string {
  const named = Object.entries(CLOSE_CODE_DOCS).map(([name, doc]) => ({ code: CloseCode[name as keyof typeof CloseCode], name: `\`${name}\``, ...doc }))
  const all = [...named, { ...DROPPED_CLOSE_DOC, name: '—' }].sort((a, b) => a.code - b.code)
  return ['| code | `CloseCode.` | reason (examples) | when |', '| --- | --- | --- | --- |', ...all.map((c) => row([String(c.code), c.name, c.reasons, c.when]))].join('\n')
}

const GENERATED: Record<string, () => string> = { options: optionsTable, 'close-codes': closeCodesTable }

/** `md` with every generated block replaced by its current text; throws if a marker is missing. */
export function regenerate(md: string): string {
  for (const [name, make] of Object.entries(GENERATED)) {
    const start = new RegExp(`<!-- ${name}:start[^>]*-->\\n`)
    const end = `<!-- ${name}:end -->`
    const from = md.search(start)
    const to = md.indexOf(end)
    if (from === -1 || to < from) throw new Error(`docs/server.md: markers for '${name}' missing`)
    const head = md.slice(from).match(start)?.[0] ?? ''
    md = `${md.slice(0, from)}${head}${make()}\n${md.slice(to)}`
  }
  return md
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const current = readFileSync(SERVER_MD, 'utf8')
  const fresh = regenerate(current)
  if (process.argv.includes('--write')) writeFileSync(SERVER_MD, fresh)
  else if (fresh !== current) {
    console.error('docs/server.md is stale: node --import tsx test/docs-reference.ts --write')
    process.exitCode = 1
  }
}
