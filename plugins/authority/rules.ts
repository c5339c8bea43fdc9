/**
 * The authority rules of SPEC §4, applied to the changes of one update.
 *
 * Ownership changes are judged first, against the state before the update. Every other
 * change is then judged with ownership as the server just decided it: a client that claims
 * a model and edits it in the same update (Normcore's RequestOwnership + write, or
 * instantiate with ownedByClient) gets both, and a rejected claim takes its edits with it.
 */
import * as Y from 'yjs'
import {
  ARRAY_ITEMS_KEY,
  COLLECTION,
  META_KEY,
  OWNER_ID,
  ROOM_MAP,
  SERVER_OWNER,
  UNOWNED,
} from '../../src/shared/layout.js'
import type { Change } from '../../server/room/transaction-view.js'
import type { UpdateContext } from '../../server/plugin.js'
import { isUnderRoot, modelOf, modelOfMeta, parentModelOf } from '../../src/shared/model-tree.js'
import { Before } from './hierarchy.js'
import type { IdentityTable } from './identity.js'

export const Reason = {
  OWNED_BY_ANOTHER: 'owned-by-another',
  TAKEOVER_PREVENTED: 'takeover-prevented',
  NOT_OWN_ID: 'not-own-id',
  STALE_OWNERSHIP: 'stale-ownership',
  SERVER_ONLY: 'server-only',
  COLLECTION_IMMUTABLE: 'collection-immutable',
  APPEND_ONLY: 'append-only',
} as const

type Verdict = { reason: string; message: string } | null

const ok: Verdict = null
const no = (reason: string, message: string): Verdict => ({ reason, message })

/** The model whose meta a change touches: a field of its $meta map, or its `$meta` key itself. */
function metaTarget(c: Change): Y.Map<unknown> | null {
  const owner = modelOfMeta(c.parent)
  if (owner) return owner
  if (c.key === META_KEY && c.parent instanceof Y.Map) return c.parent
  return null
}

function isOwnershipChange(c: Change): boolean {
  return c.key === OWNER_ID ? modelOfMeta(c.parent) !== null : c.key === META_KEY && c.parent instanceof Y.Map
}

function itemType(item: Y.Item | null): Y.AbstractType<any> | null {
  return item !== null && item.content instanceof Y.ContentType ? item.content.type : null
}

function sameId(a: Y.ID | null, b: Y.ID | null): boolean {
  return a === b || (a !== null && b !== null && a.client === b.client && a.clock === b.clock)
}

export class Judge {
  private before: Before
  /** Owners accepted in this update's ownership phase (created on the first: most updates have none). */
  private owners: Map<Y.Map<unknown>, number> | null = null

  constructor(
    private ctx: UpdateContext,
    private identity: IdentityTable,
  ) {
    this.before = new Before(ctx.view)
  }

  run(): void {
    const changes = this.ctx.view.changes
    const rest: Change[] = []
    for (const c of changes) {
      if (this.ctx.isRejected(c)) continue
      if (isOwnershipChange(c)) this.apply(c, this.judgeOwnership(c))
      else rest.push(c)
    }
    for (const c of rest) this.apply(c, this.judgeOther(c))
  }

  private apply(c: Change, v: Verdict): void {
    if (v) this.ctx.reject(c, v.reason, v.message)
  }

  private own(clientID: number): boolean {
    return this.identity.isOwnConnection(clientID, this.ctx.connection)
  }

  /**
   * Ownership is claimed only under an id the connection holds with a stored binding (it
   * wrote under it): an id held for awareness alone is forgotten when the connection
   * closes, and what it owned would be left to whoever takes the id next.
   */
  private mayClaimAs(clientID: number): boolean {
    return this.identity.isBoundForWriting(clientID, this.ctx.connection)
  }

  private ownerOf(model: Y.Map<unknown>): number {
    return this.owners?.get(model) ?? this.before.meta(model).ownerID
  }

  /** The nearest model in `model`'s hierarchy owned by another, or null (rule 1). */
  private ownedByAnother(model: Y.Map<unknown> | null, skipSelf = false): Y.Map<unknown> | null {
    // A loop rather than findInHierarchy with a test: this runs for nearly every change.
    for (let m = model; m !== null; m = parentModelOf(m)) {
      if (skipSelf && m === model) continue
      const owner = this.ownerOf(m)
      if (owner !== UNOWNED && !this.own(owner)) return m
    }
    return null
  }

  private serverOnly(c: Change): Verdict {
    return isUnderRoot(c.parent, ROOM_MAP) ? no(Reason.SERVER_ONLY, `${ROOM_MAP} is written only by the server`) : ok
  }

  /** Rule 3: a claim or clear of `model`'s ownerID (or a replacement of its whole $meta). */
  private judgeOwnership(c: Change): Verdict {
    const model = metaTarget(c)!
    const v = this.serverOnly(c)
    if (v) return v
    const next = this.ownerAfter(c)
    if (next !== UNOWNED && !this.mayClaimAs(next)) return no(Reason.NOT_OWN_ID, `ownerID may only be set to your own client id or -1, not ${next}`)
    if (this.ownedByAnother(model, true)) return no(Reason.OWNED_BY_ANOTHER, 'an ancestor model is owned by another client')
    if (c.kind === 'insert' && !this.isCompareAndSet(c)) {
      return no(Reason.STALE_OWNERSHIP, 'ownership changed on the server before this request arrived')
    }
    const current = this.before.meta(model).ownerID
    if (current !== UNOWNED && current !== next && !this.own(current) && !this.identity.isSamePrincipal(current, this.ctx.connection.principal)) {
      if (current === SERVER_OWNER) return no(Reason.SERVER_ONLY, 'the model is owned by the server')
      if (this.before.findInHierarchy(model, (m) => this.before.meta(m).prevent)) {
        return no(Reason.TAKEOVER_PREVENTED, 'preventOwnershipTakeover is set on the model or an ancestor')
      }
    }
    // A claim would freeze every model below for their owners (rule 1): refused when one
    // of them is protected from takeover, as taking it over directly would be.
    if (next !== UNOWNED && next !== current && this.ownedBelow(model, true)) {
      return no(Reason.TAKEOVER_PREVENTED, 'a model below is owned by another client and preventOwnershipTakeover protects it')
    }
    if (c.key === META_KEY) {
      const collection = this.before.meta(model).collection
      const meta = itemType(c.kind === 'insert' ? c.item : null)
      const nextCollection = meta instanceof Y.Map ? meta.get(COLLECTION) : undefined
      if (collection !== nextCollection) return no(Reason.COLLECTION_IMMUTABLE, 'collection is set once, at creation')
    }
    ;(this.owners ??= new Map()).set(model, next)
    return ok
  }

  /** The ownerID the change leaves on its model. */
  private ownerAfter(c: Change): number {
    if (c.kind === 'delete') return UNOWNED
    const content = c.item.content.getContent()
    const value = c.key === META_KEY ? (content[0] instanceof Y.Map ? content[0].get(OWNER_ID) : undefined) : content[content.length - 1]
    return typeof value === 'number' ? value : UNOWNED
  }

  /** §4 concurrency: a claim is valid only when made on the value the server holds. */
  private isCompareAndSet(c: Extract<Change, { kind: 'insert' }>): boolean {
    const map = c.parent as Y.Map<unknown>
    let old = map._map.get(c.key!) ?? null
    while (old !== null && this.ctx.view.isNew(old)) old = old.left
    // A key set several times in one update (claim, then clear): the first of those writes
    // is the one made on the value the client saw.
    let first = c.item
    while (first.left !== null && this.ctx.view.isNew(first.left) && sameId(first.origin, first.left.lastId)) first = first.left
    return sameId(first.origin, old === null ? null : old.lastId)
  }

  /** Rules 1, 2, 4, 5, 6, 7 for everything that is not an ownership change. */
  private judgeOther(c: Change): Verdict {
    const v = this.serverOnly(c)
    if (v) return v
    const metaModel = metaTarget(c)
    if (metaModel) return this.judgeMetaField(c, metaModel)
    const model = modelOf(c.parent)
    if (this.ownedByAnother(model)) return no(Reason.OWNED_BY_ANOTHER, 'the model or an ancestor is owned by another client')
    // A write that lost a tie-break to a compensation (lostTo) would replace it when the
    // server re-asserts the write: judged as replacing it.
    const removed = itemType(c.kind === 'delete' ? c.item : (c.replaced ?? c.lostTo ?? null))
    if (removed !== null) {
      // Rule 2: removing (or overwriting) a type removes every model below it as well.
      if (removed instanceof Y.Map && this.ownedByAnother(removed)) {
        return no(Reason.OWNED_BY_ANOTHER, `the ${c.kind === 'delete' ? 'removed' : 'replaced'} model is owned by another client`)
      }
      if (this.ownedBelow(removed)) {
        return no(Reason.OWNED_BY_ANOTHER, `a model inside the ${c.kind === 'delete' ? 'removed' : 'replaced'} content is owned by another client`)
      }
    }
    if (c.kind === 'insert') {
      const created = itemType(c.item)
      if (created) {
        const bad = this.foreignClaim(created)
        if (bad !== null) return no(Reason.NOT_OWN_ID, `a new model may be owned only by its creator, not ${bad}`)
      }
    }
    return this.judgeCollection(c, model)
  }

  /** Rule 4: meta fields other than ownerID follow rule 1 on the model; collection never changes. */
  private judgeMetaField(c: Change, model: Y.Map<unknown>): Verdict {
    if (c.key === COLLECTION) return no(Reason.COLLECTION_IMMUTABLE, 'collection is set once, at creation')
    if (this.ownedByAnother(model)) return no(Reason.OWNED_BY_ANOTHER, 'the model or an ancestor is owned by another client')
    return ok
  }

  /** Rule 6: a RealtimeArray only grows at its end. */
  private judgeCollection(c: Change, model: Y.Map<unknown> | null): Verdict {
    if (model === null) return ok
    const replacesItems = c.kind === 'delete' || c.replaced !== null
    if (model === c.parent && c.key === ARRAY_ITEMS_KEY && replacesItems && this.before.meta(model).collection === 'array') {
      return no(Reason.APPEND_ONLY, 'the items of a RealtimeArray cannot be replaced')
    }
    const parent = c.parent
    const arrayModel = parent instanceof Y.Array ? modelOf(parent) : null
    if (arrayModel === null || parent._item?.parentSub !== ARRAY_ITEMS_KEY || this.before.meta(arrayModel).collection !== 'array') return ok
    if (c.kind === 'delete') return no(Reason.APPEND_ONLY, 'RealtimeArray is append-only: items cannot be removed')
    if (c.item.rightOrigin !== null) return no(Reason.APPEND_ONLY, 'RealtimeArray is append-only: insert only at the end')
    return ok
  }

  /** An ownerID in a newly created subtree that is neither -1 nor the creator's: the first one found. */
  private foreignClaim(type: Y.AbstractType<any>): number | null {
    let bad: number | null = null
    walkTypes(type, (t) => t.content instanceof Y.ContentType && !t.deleted, (m) => {
      const meta = m.get(META_KEY)
      if (!(meta instanceof Y.Map)) return false
      const owner = meta.get(OWNER_ID)
      if (typeof owner === 'number' && owner !== UNOWNED && !this.mayClaimAs(owner)) bad = owner
      return bad !== null
    })
    return bad
  }

  /**
   * True when some model strictly below `type` was owned by another before the update
   * (rule 2); with `protectedOnly`, only one that preventOwnershipTakeover protects (set on
   * it, or on a model between it and `type`, `type` included: rule 3 for claims). Reads
   * the tree as it was: content this update added is not looked at, and content it
   * deleted is. Iterative: a tree may be as deep as the nesting limit allows.
   */
  private ownedBelow(type: Y.AbstractType<any>, protectedOnly = false): boolean {
    const view = this.ctx.view
    const existed = (item: Y.Item) => !view.isNew(item) && (!item.deleted || view.deletedBefore.has(item))
    const typeIn = (item: Y.Item | null) => (item !== null && item.content instanceof Y.ContentType && existed(item) ? item.content.type : null)
    const prevented = (t: Y.AbstractType<any>) => protectedOnly && t instanceof Y.Map && this.before.meta(t).prevent
    const stack: Array<[Y.AbstractType<any>, boolean]> = [[type, prevented(type)]]
    while (stack.length > 0) {
      const [t, prevent] = stack.pop()!
      if (t !== type && t instanceof Y.Map && (prevent || !protectedOnly)) {
        const owner = this.ownerOf(t)
        if (owner !== UNOWNED && !this.own(owner)) return true
      }
      const push = (child: Y.AbstractType<any> | null) => {
        if (child !== null) stack.push([child, prevent || prevented(child)])
      }
      for (let item = t._start; item !== null; item = item.right) push(typeIn(item))
      for (const [key, current] of t._map) {
        if (key === META_KEY) continue
        let item: Y.Item | null = current
        while (item !== null && view.isNew(item)) item = item.left
        push(typeIn(item))
      }
    }
    return false
  }
}

/**
 * Visits every Y.Map at or below `root` (iteratively: a tree may be as deep as the nesting
 * limit allows) until `visit` returns true; returns whether it did. `follow` says which
 * items holding a type to descend into; `current` picks a map key's item (default: the
 * key's current one). `$meta` maps are not models and are not visited.
 */
function walkTypes(
  root: Y.AbstractType<any>,
  follow: (item: Y.Item) => boolean,
  visit: (model: Y.Map<unknown>) => boolean,
  current: (map: Y.AbstractType<any>, key: string) => Y.Item | null = (map, key) => map._map.get(key) ?? null,
): boolean {
  const stack: Y.AbstractType<any>[] = [root]
  while (stack.length > 0) {
    const t = stack.pop()!
    if (t instanceof Y.Map && visit(t)) return true
    for (let item = t._start; item !== null; item = item.right) {
      if (follow(item)) stack.push((item.content as Y.ContentType).type)
    }
    for (const key of t._map.keys()) {
      if (key === META_KEY) continue
      const item = current(t, key)
      if (item !== null && follow(item)) stack.push((item.content as Y.ContentType).type)
    }
  }
  return false
}
