/** The plugins `yroom serve` enables by default. */
import type { YroomPlugin } from '../server/plugin.js'

export interface DefaultPluginOptions {
  /** Enforce ownership rules (SPEC §3, §4). Default true. */
  authority?: boolean
  /** A leave is final after this many ms (SPEC §6). Default 0. */
  reconnectGraceMs?: number
}

export function defaultPlugins(_options: DefaultPluginOptions = {}): YroomPlugin[] {
  return []
}
