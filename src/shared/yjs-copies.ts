/**
 * Two copies of Yjs in one process (a CommonJS `require('yjs')` beside the ES module, or two
 * versions in node_modules) break every `instanceof` check between them: a `Y.Doc` or
 * `Y.Map` of one copy is not one to the other, and Yjs misreads it silently or fails with
 * "Unexpected content type". Yjs itself only prints "Yjs was already imported" once.
 *
 * yroom detects it where it can say what is wrong:
 * - `assertOwnYjs(value, what)`: a Yjs object handed to yroom (connect's `doc`, a model
 *   given to `patch` / `updated`) that belongs to another copy throws `YjsCopyError`.
 * - `otherYjsCopies()`: other copies loaded in this process: CommonJS copies in Node's
 *   module cache (any time), and copies evaluated after this module (Yjs marks each import on
 *   globalThis; yroom counts the marks). Checked at `connect()` and server start.
 */
import * as Y from 'yjs'

const MARKER = '__ $YJS$ __'
let laterCopies = 0

// Every Yjs copy sets globalThis[MARKER] = true when it is evaluated: count the ones after ours.
try {
  const g = globalThis as Record<string, unknown>
  const desc = Object.getOwnPropertyDescriptor(g, MARKER)
  if (!desc || desc.configurable) {
    Object.defineProperty(g, MARKER, {
      configurable: true,
      get: () => true,
      set: () => {
        laterCopies++
      },
    })
  }
} catch {
  // A frozen global: no counting, the other checks still work.
}

export const YJS_COPIES_HELP =
  'Import yjs one way everywhere (all ES modules or all require, not both) and keep one version installed ' +
  '(`npm ls yjs`, `npm dedupe`; bundlers: mark yjs external or alias it to one file). https://github.com/yjs/yjs/issues/438'

/** A Yjs object from another copy of Yjs than the one yroom uses. */
export class YjsCopyError extends TypeError {
  constructor(what: string) {
    super(`${what} comes from another copy of Yjs than the one yroom uses: two copies of Yjs are loaded in this process, and their objects do not work together. ${YJS_COPIES_HELP}`)
    this.name = 'YjsCopyError'
  }
}

/** True for a Y.Doc or shared type of any Yjs copy (by shape, not by class). */
function looksLikeYjs(value: object): boolean {
  const v = value as Record<string, unknown>
  const isDoc = v.share instanceof Map && typeof v.clientID === 'number' && typeof v.transact === 'function'
  const isType = v._map instanceof Map && '_item' in v && '_eH' in v
  return isDoc || isType
}

/** Throws YjsCopyError when `value` is a Yjs object of another copy. */
export function assertOwnYjs(value: unknown, what: string): void {
  if (value === null || typeof value !== 'object') return
  if (value instanceof Y.Doc || value instanceof Y.AbstractType) return
  if (looksLikeYjs(value)) throw new YjsCopyError(what)
}

interface NodeModuleApi {
  createRequire(from: string): { cache: Record<string, { exports?: unknown } | undefined> }
}

/** Descriptions of the other Yjs copies seen in this process (empty: none seen). */
export function otherYjsCopies(): string[] {
  const found: string[] = []
  // Node: CommonJS copies sit in the module cache. No static import of node:module, so
  // browsers bundle this file unchanged.
  const proc = (globalThis as { process?: { getBuiltinModule?(id: string): unknown; cwd?(): string } }).process
  const mod = proc?.getBuiltinModule?.('node:module') as NodeModuleApi | undefined
  if (mod && proc?.cwd) {
    try {
      const cache = mod.createRequire(`${proc.cwd()}/`).cache
      for (const [file, entry] of Object.entries(cache)) {
        if (!/[\\/]yjs[\\/]dist[\\/][^\\/]+\.c?js$/.test(file)) continue
        const doc = (entry?.exports as { Doc?: unknown } | undefined)?.Doc
        if (typeof doc === 'function' && doc !== Y.Doc) found.push(`CommonJS yjs (${file})`)
      }
    } catch {
      // No module cache to look at.
    }
  }
  if (laterCopies > 0) found.push(`${laterCopies} Yjs module(s) evaluated after yroom's`)
  return found
}

let warned = false

/** Logs (once per process) when other Yjs copies are loaded; returns what it found. */
export function warnYjsCopies(log: (message: string) => void = (m) => console.error(m)): string[] {
  const copies = otherYjsCopies()
  if (copies.length > 0 && !warned) {
    warned = true
    log(`yroom: two copies of Yjs are loaded in this process (${copies.join('; ')}); Yjs objects of one do not work with the other. ${YJS_COPIES_HELP}`)
  }
  return copies
}

/** @internal Tests: log again. */
export function resetYjsCopiesWarning(): void {
  warned = false
}
