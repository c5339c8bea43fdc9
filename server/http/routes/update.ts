/**
 * GET /rooms/{room}/update: the room as one Yjs update (V1), or only what a state vector
 * lacks (`?sv=<base64url>`). POST /rooms/{room}/update: applies a Yjs update as the server.
 */
import * as Y from 'yjs'
import { MalformedUpdate, readUpdateLayout, type UpdateLayout } from '../../codec/update-layout.js'
import { checkNesting } from '../../room/nesting.js'
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

/** The checks a client's update gets before anything of it is applied. */
function checkUpdate(update: Uint8Array): UpdateLayout {
  if (update.byteLength === 0) throw new ApiError(400, 'malformed-update', 'the body is empty; send a Yjs update (V1) as application/octet-stream')
  let layout: UpdateLayout
  try {
    layout = readUpdateLayout(update)
    Y.decodeUpdate(update)
  } catch (err) {
    if (err instanceof MalformedUpdate || err instanceof Error) throw new ApiError(400, 'malformed-update', `not a Yjs update (V1): ${err.message}`)
    throw err
  }
  if (layout.subdocs > 0) throw new ApiError(400, 'unsupported-content', 'subdocuments are not supported')
  return layout
}

/** Inside the edit: refuses an update whose structs build on ones the room lacks (it would sit pending, never applied). */
function checkDependencies(doc: Y.Doc, layout: UpdateLayout): void {
  for (const [client, first] of layout.structClients) {
    const have = Y.getState(doc.store, client)
    if (first > have) throw new ApiError(409, 'missing-dependencies', `the update builds on changes the room lacks: client ${client} from clock ${first}, the room has up to ${have}`)
  }
}

/** 413 when the update could take the document past `maxDocumentBytes` (an update adding no structs never grows it). */
function tooLarge(ctx: ApiContext): ApiError {
  return new ApiError(413, 'document-too-large', `document would exceed ${ctx.maxDocumentBytes} bytes`)
}

export const postUpdate: Handler = async (ctx, { body, params }) => {
  const update = new Uint8Array(body)
  const layout = checkUpdate(update)
  await authorityFor(ctx, params.room)
  const grows = layout.structClients.size > 0
  // A loaded room keeps a bound on its size (document-size.ts), as for its clients' updates.
  const live = ctx.rooms.get(params.room)
  if (grows && live && !live.size.admit(update.byteLength, () => live.applyInbox())) throw tooLarge(ctx)
  try {
    await ctx.rooms.edit(params.room, (doc) => {
      checkDependencies(doc, layout)
      checkNesting(doc, update, layout, ctx.maxNestingDepth)
      // Not loaded (a copy from storage): measured.
      if (grows && ctx.rooms.get(params.room)?.doc !== doc && Y.encodeStateAsUpdate(doc).byteLength + update.byteLength > ctx.maxDocumentBytes) throw tooLarge(ctx)
      Y.applyUpdate(doc, update)
    })
  } catch (err) {
    if (err instanceof Refusal) throw new ApiError(400, err.code, err.message)
    throw translate(err)
  }
  return { json: { applied: true, room: params.room } }
}
