/**
 * GET /rooms/{room}/update: the room as one Yjs update (V1), or only what a state vector
 * lacks (`?sv=<base64url>`). POST /rooms/{room}/update: applies a Yjs update as the server.
 */
import * as Y from 'yjs'
import { MalformedUpdate, readUpdateLayout, type UpdateLayout } from '../../codec/update-layout.js'
import { checkNesting } from '../../room/nesting.js'
import { checkOrigins, checkPlaced } from '../../room/origins.js'
import { Refusal } from '../../plugin.js'
import type { ApiContext, Handler } from '../context.js'
import { ApiError } from '../errors.js'
import { authorityFor, requireRoom, translate } from '../room-access.js'

export const STATE_VECTOR_HEADER = 'x-yroom-state-vector'

/** `?sv=`: the encoded state vector, checked to decode. */
function stateVectorParam(text: string): Uint8Array {
  try {
    // base64url; plain base64 too (a `+` that arrived unencoded reads as a space).
    const b64 = text.replaceAll(' ', '+')
    if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(b64)) throw new Error('not base64url')
    const bytes = new Uint8Array(Buffer.from(b64, 'base64'))
    const sv = Y.decodeStateVector(bytes)
    for (const [client, clock] of sv) if (!Number.isSafeInteger(client) || !Number.isSafeInteger(clock) || clock < 0) throw new Error('bad entry')
    return bytes
  } catch (err) {
    throw new ApiError(400, 'bad-state-vector', `sv is not a base64url Yjs state vector: ${(err as Error).message}`)
  }
}

export const getUpdate: Handler = async (ctx, { params, url }) => {
  await requireRoom(ctx, params.room)
  const svText = url.searchParams.get('sv')
  const sv = svText === null ? undefined : stateVectorParam(svText)
  const { update, state } = await ctx.rooms
    .read(params.room, (doc) => ({ update: Y.encodeStateAsUpdate(doc, sv), state: Y.encodeStateVector(doc) }))
    .catch((err: unknown) => {
      throw translate(err)
    })
  return { bytes: update, contentType: 'application/octet-stream', headers: { [STATE_VECTOR_HEADER]: Buffer.from(state).toString('base64url') } }
}

type Decoded = ReturnType<typeof Y.decodeUpdate>

/** The checks a client's update gets before anything of it is applied. */
function checkUpdate(update: Uint8Array): { layout: UpdateLayout; decoded: Decoded } {
  if (update.byteLength === 0) throw new ApiError(400, 'malformed-update', 'the body is empty; send a Yjs update (V1) as application/octet-stream')
  let layout: UpdateLayout
  let decoded: Decoded
  try {
    layout = readUpdateLayout(update)
    decoded = Y.decodeUpdate(update)
  } catch (err) {
    if (err instanceof MalformedUpdate || err instanceof Error) throw new ApiError(400, 'malformed-update', `not a Yjs update (V1): ${err.message}`)
    throw err
  }
  if (layout.subdocs > 0) throw new ApiError(400, 'unsupported-content', 'subdocuments are not supported')
  return { layout, decoded }
}

/**
 * Inside the edit: refuses an update that builds on content the room lacks: structs past a
 * client's state, items placed by (or in) another client's content the room has not, or
 * deletions of it. Yjs would keep those pending, unapplied, in the room's document, to be
 * integrated by whichever later update supplies what they lack. Checked before anything is
 * applied, as an edit is not undone.
 */
function checkDependencies(doc: Y.Doc, layout: UpdateLayout, { structs, ds }: Decoded): void {
  for (const [client, first] of layout.structClients) {
    const have = Y.getState(doc.store, client)
    if (first > have) throw new ApiError(409, 'missing-dependencies', `the update builds on changes the room lacks: client ${client} from clock ${first}, the room has up to ${have}`)
  }
  // Per client, the clocks the room will have: its state, extended by the update's own structs.
  const reach = new Map<number, number>()
  const has = (client: number) => reach.get(client) ?? Y.getState(doc.store, client)
  for (const s of structs) {
    if (s instanceof Y.Skip) continue
    const end = has(s.id.client)
    if (s.id.clock > end) throw missing(`client ${s.id.client} from clock ${s.id.clock}, the room has up to ${end}`)
    reach.set(s.id.client, Math.max(end, s.id.clock + s.length))
  }
  const lacks = (id: Y.ID | null) => id !== null && id.clock >= has(id.client)
  for (const s of structs) {
    if (!(s instanceof Y.Item)) continue
    for (const ref of [s.origin, s.rightOrigin, s.parent instanceof Y.ID ? s.parent : null]) {
      if (lacks(ref)) throw missing(`an item refers to client ${ref!.client}'s clock ${ref!.clock}, the room has up to ${has(ref!.client)}`)
    }
  }
  for (const [client, deletes] of ds.clients) {
    for (const d of deletes) if (d.clock + d.len > has(client)) throw missing(`it deletes client ${client}'s clocks up to ${d.clock + d.len}, the room has up to ${has(client)}`)
  }
}

/**
 * Inside the edit: refuses an item whose origins are not neighbours in one list (SPEC §12),
 * as a client's update is (origins.ts). What can only be checked once integrated is checked
 * on a copy: an edit is not undone.
 */
function checkPlacement(doc: Y.Doc, update: Uint8Array, layout: UpdateLayout): void {
  if (!checkOrigins(doc, update, layout)) return
  const copy = new Y.Doc()
  try {
    Y.applyUpdate(copy, Y.encodeStateAsUpdate(doc))
    const before = new Map([...layout.structClients.keys()].map((c) => [c, Y.getState(copy.store, c)]))
    Y.applyUpdate(copy, update)
    checkPlaced(copy, layout.structClients.keys(), before, layout.neighbours.length / 5)
  } finally {
    copy.destroy()
  }
}

const missing = (what: string) => new ApiError(409, 'missing-dependencies', `the update builds on changes the room lacks: ${what}`)

/** 413 when the update could take the document past `maxDocumentBytes` (an update adding no structs never grows it). */
function tooLarge(ctx: ApiContext): ApiError {
  return new ApiError(413, 'document-too-large', `document would exceed ${ctx.maxDocumentBytes} bytes`)
}

export const postUpdate: Handler = async (ctx, { body, params }) => {
  const update = new Uint8Array(body)
  const { layout, decoded } = checkUpdate(update)
  await authorityFor(ctx, params.room)
  const grows = layout.structClients.size > 0
  // A loaded room keeps a bound on its size (document-size.ts), as for its clients' updates.
  const live = ctx.rooms.get(params.room)
  if (grows && live && !live.size.admit(update.byteLength, () => live.applyInbox())) throw tooLarge(ctx)
  try {
    await ctx.rooms.edit(params.room, (doc) => {
      checkDependencies(doc, layout, decoded)
      checkNesting(doc, update, layout, ctx.maxNestingDepth)
      checkPlacement(doc, update, layout)
      // Not loaded (a copy from storage): measured.
      if (grows && ctx.rooms.get(params.room)?.doc !== doc && Y.encodeStateAsUpdate(doc).byteLength + update.byteLength > ctx.maxDocumentBytes) throw tooLarge(ctx)
      Y.applyUpdate(doc, update)
    })
  } catch (err) {
    if (err instanceof Refusal) throw new ApiError(400, err.code, err.message)
    if (err instanceof MalformedUpdate) throw new ApiError(400, 'malformed-update', `not a Yjs update the room can take: ${err.message}`)
    throw translate(err)
  }
  return { json: { applied: true, room: params.room } }
}
