/**
 * The model tree as the inspector page draws it: a JSON snapshot of a Y.Doc, every model
 * with its owner, its flags and its collection kind read from its `$meta` (SPEC §2), plain
 * values inline. Bounded: long strings are cut and big documents shown in part.
 */
import * as Y from 'yjs'
import { COLLECTION, DESTROY_WHEN_OWNER_LEAVES, META_KEY, OWNER_ID, PREVENT_OWNERSHIP_TAKEOVER } from '../../src/shared/layout.js'

export interface TreeNode {
  /** Key in its parent (a map key, an array index or a root name). */
  k: string | number
  /** model: a Y.Map with a `$meta`; map: a Y.Map without one. */
  t: 'model' | 'map' | 'array' | 'text' | 'xml' | 'value'
  /** A plain value (cut), or a text's content (cut). */
  v?: unknown
  /** A model's `$meta.ownerID`. */
  owner?: number
  /** A model's flags, when set. */
  pt?: true
  dl?: true
  /** A collection model's kind (`$meta.collection`). */
  coll?: string
  c?: TreeNode[]
  /** Children not shown (over the limits). */
  more?: number
}

export interface TreeLimits {
  /** Nodes in all. */
  maxNodes: number
  /** Children per node. */
  maxChildren: number
  /** Characters of a string value. */
  maxString: number
}

export const DEFAULT_TREE_LIMITS: TreeLimits = { maxNodes: 4000, maxChildren: 300, maxString: 120 }

type AnyType = Y.AbstractType<unknown>

/** The document's roots, each a node. */
export function snapshotTree(doc: Y.Doc, limits: TreeLimits = DEFAULT_TREE_LIMITS): TreeNode[] {
  const budget = { left: limits.maxNodes }
  const out: TreeNode[] = []
  for (const [name, type] of [...doc.share.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    out.push(nodeOf(name, rootAs(doc, name, type as AnyType), limits, budget))
  }
  return out
}

/**
 * A root that arrived only through updates is an untyped AbstractType until asked for by
 * class. The inspector reads a loaded room's roots as the room typed them (maps), and a
 * stored copy's as what they hold; asking by class changes no content.
 */
function rootAs(doc: Y.Doc, name: string, type: AnyType): AnyType {
  if (type.constructor !== Y.AbstractType) return type
  return (type._start !== null ? doc.getArray(name) : doc.getMap(name)) as AnyType
}

function cut(v: string, limits: TreeLimits): string {
  return v.length > limits.maxString ? `${v.slice(0, limits.maxString)}…` : v
}

function plain(v: unknown, limits: TreeLimits): unknown {
  if (typeof v === 'string') return cut(v, limits)
  if (v instanceof Uint8Array) return `<${v.byteLength} bytes>`
  if (v === undefined) return null
  if (typeof v === 'object' && v !== null) {
    const s = JSON.stringify(v)
    return s.length > limits.maxString ? cut(s, limits) : v
  }
  return v
}

function nodeOf(k: string | number, value: unknown, limits: TreeLimits, budget: { left: number }): TreeNode {
  budget.left--
  if (value instanceof Y.Map) {
    const meta = value.get(META_KEY)
    const node: TreeNode = { k, t: meta instanceof Y.Map ? 'model' : 'map' }
    if (meta instanceof Y.Map) {
      const owner = meta.get(OWNER_ID)
      if (typeof owner === 'number') node.owner = owner
      if (meta.get(PREVENT_OWNERSHIP_TAKEOVER) === true) node.pt = true
      if (meta.get(DESTROY_WHEN_OWNER_LEAVES) === true) node.dl = true
      const coll = meta.get(COLLECTION)
      if (typeof coll === 'string') node.coll = coll
    }
    const keys = [...value.keys()].filter((key) => key !== META_KEY).sort()
    node.c = children(keys.map((key) => [key, value.get(key)] as const), limits, budget)
    if (keys.length > node.c.length) node.more = keys.length - node.c.length
    return node
  }
  if (value instanceof Y.Array) {
    const items = value.toArray()
    const node: TreeNode = { k, t: 'array', c: children(items.map((v, i) => [i, v] as const), limits, budget) }
    if (items.length > node.c!.length) node.more = items.length - node.c!.length
    return node
  }
  if (value instanceof Y.Text) return { k, t: 'text', v: cut(value.toString(), limits) }
  if (value instanceof Y.XmlFragment || value instanceof Y.XmlElement || value instanceof Y.XmlText) {
    return { k, t: 'xml', v: cut(value.toString(), limits) }
  }
  if (value instanceof Y.AbstractType) return { k, t: 'value', v: '<shared type>' }
  if (value instanceof Y.Doc) return { k, t: 'value', v: `<subdocument ${value.guid}>` }
  return { k, t: 'value', v: plain(value, limits) }
}

function children(entries: ReadonlyArray<readonly [string | number, unknown]>, limits: TreeLimits, budget: { left: number }): TreeNode[] {
  const out: TreeNode[] = []
  for (const [key, v] of entries) {
    if (out.length >= limits.maxChildren || budget.left <= 0) break
    out.push(nodeOf(key, v, limits, budget))
  }
  return out
}

/** Every model's owner, by path (`a/b/c`): the watch compares two to log ownership changes. */
export function ownersOf(tree: TreeNode[]): Map<string, number> {
  const out = new Map<string, number>()
  const walk = (n: TreeNode, path: string) => {
    if (n.t === 'model' && n.owner !== undefined) out.set(path, n.owner)
    for (const c of n.c ?? []) walk(c, `${path}/${c.k}`)
  }
  for (const root of tree) walk(root, String(root.k))
  return out
}
