/** The plugins `yroom serve` enables by default. */
import type { YroomPlugin } from '../server/plugin.js'
import { authorityPlugin } from './authority/index.js'
import { lifetimePlugin } from './lifetime/index.js'
import { stringKeyDictionaryPlugin } from './datastore/string-key-dictionary.js'
import { datastoreSkeletonPlugin } from './datastore/skeleton.js'

export interface DefaultPluginOptions {
  /** Enforce ownership rules (SPEC §3, §4). Default true. */
  authority?: boolean
  /** A leave is final after this many ms (SPEC §6). Default 0. */
  reconnectGraceMs?: number
}

export function defaultPlugins(options: DefaultPluginOptions = {}): YroomPlugin[] {
  const plugins: YroomPlugin[] = []
  if (options.authority !== false) {
    plugins.push(authorityPlugin())
    // Lifetime needs authority's identity bindings to know whose models a leave removes.
    plugins.push(lifetimePlugin({ reconnectGraceMs: options.reconnectGraceMs }))
  }
  // Server side of the SDK: StringKeyDictionary requests and the root model skeleton.
  plugins.push(stringKeyDictionaryPlugin(), datastoreSkeletonPlugin())
  return plugins
}
