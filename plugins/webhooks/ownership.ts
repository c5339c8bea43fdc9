/**
 * Ownership changes of a room's models, whoever made them (a client's update, the lifetime
 * plugin, a backend edit): each transaction's changed meta-models are checked for a new
 * `ownerID`, and models it created with an owner are reported too (previous owner -1). A
 * rejected write, undone in the same transaction, leaves the owner as it was and reports
 * nothing.
 */
import * as Y from 'yjs'
import { META_KEY, OWNER_ID, UNOWNED } from '../../src/shared/layout.js'
import { pathOfType } from '../../src/shared/paths.js'
import type { ModelPath } from '../../src/shared/protocol/extension.js'

export interface OwnershipChange {
  /** The model whose owner changed. */
  path: ModelPath
  /** The new and former owner: a Yjs client id, 0 for the server, -1 for none. */
  owner: number
  previousOwner: number
}

const ownerValue = (v: unknown): number => (typeof v === 'number' ? v : UNOWNED)

/** Models `tr` created with an owner: its new structs are walked (not the changed types, which may be long). */
function newOwnedModels(tr: Y.Transaction, out: OwnershipChange[]): void {
  for (const [client, after] of tr.afterState) {
    const before = tr.beforeState.get(client) ?? 0
    if (after <= before) continue
    const structs = tr.doc.store.clients.get(client)
    if (!structs) continue
    for (let i = Y.findIndexSS(structs, before); i < structs.length; i++) {
      const item = structs[i]
      if (!(item instanceof Y.Item) || item.deleted || !(item.content instanceof Y.ContentType)) continue
      const model = item.content.type
      if (!(model instanceof Y.Map)) continue
      const meta = model.get(META_KEY)
      const owner = meta instanceof Y.Map ? ownerValue(meta.get(OWNER_ID)) : UNOWNED
      if (owner !== UNOWNED) out.push({ path: pathOfType(model), owner, previousOwner: UNOWNED })
    }
  }
}

/** The ownership changes `tr` made. */
export function ownershipChanges(tr: Y.Transaction): OwnershipChange[] {
  const out: OwnershipChange[] = []
  newOwnedModels(tr, out)
  for (const [type, keys] of tr.changed) {
    if (!keys.has(OWNER_ID) || !(type instanceof Y.Map) || type._item?.parentSub !== META_KEY) continue
    // A map event computes what the key held before the transaction.
    const change = new Y.YMapEvent(type, tr, new Set([OWNER_ID])).changes.keys.get(OWNER_ID)
    if (!change) continue
    const owner = ownerValue(type.get(OWNER_ID))
    const previousOwner = change.action === 'add' ? UNOWNED : ownerValue(change.oldValue)
    if (owner === previousOwner) continue
    const model = type._item.parent as Y.AbstractType<any>
    out.push({ path: pathOfType(model), owner, previousOwner })
  }
  return out
}

/** Calls `report` after each transaction of `doc` that changed an owner; returns the stop function. */
export function watchOwnership(doc: Y.Doc, report: (c: OwnershipChange) => void): () => void {
  const onTransaction = (tr: Y.Transaction) => {
    if (tr.changed.size === 0) return
    for (const c of ownershipChanges(tr)) report(c)
  }
  doc.on('afterTransaction', onTransaction)
  return () => doc.off('afterTransaction', onTransaction)
}
