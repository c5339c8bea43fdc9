/**
 * Lifetime flags (SPEC §6): models with destroyWhenOwnerOrLastClientLeaves are deleted by
 * the server when their owner leaves (after the reconnect grace period), unowned ones when
 * the last client leaves, all of them when the room shuts down, and, after a crash, when
 * the room loads again, before any client sees it. Deletions are ordinary server updates.
 * Persistent models of anonymous owners are released (ownerID -1) when the room shuts down
 * and, after a crash, when it loads again.
 *
 * Root models (top-level Y.Maps with a $meta) follow the same rules as nested ones. A root
 * cannot be taken out of a Y.Doc, so "deleted" means cleared: every key, $meta included
 * (models.ts).
 *
 * Needs the authority plugin (registered before this one) for client-id → connection bindings.
 */
import * as Y from 'yjs'
import { OWNER_ID, UNOWNED } from '../../src/shared/layout.js'
import type { YroomPlugin, RoomHandle, IdentityService } from '../../server/plugin.js'
import { walkModels } from './models.js'

export interface LifetimeOptions {
  /** A leave becomes final this many ms after the connection closed. Default 0. */
  reconnectGraceMs?: number
}

const NAME = 'lifetime'

interface LifetimeState {
  timers: Set<NodeJS.Timeout>
}

function stateOf(room: RoomHandle): LifetimeState {
  let s = room.pluginState.get(NAME) as LifetimeState | undefined
  if (!s) room.pluginState.set(NAME, (s = { timers: new Set() }))
  return s
}

/** The authority plugin's identity service: who holds which client id. */
function identityOf(room: RoomHandle): IdentityService {
  const identity = room.services.identity
  if (identity === undefined) throw new Error(`the lifetime plugin needs the authority plugin (registered before it) in room ${room.name}`)
  return identity
}

/** Deletes the ephemeral models `doomed` selects, as one server update (skipped when none). */
function destroy(room: RoomHandle, doomed: (ownerID: number) => boolean): number {
  let count = 0
  const removals: Array<() => void> = []
  walkModels(room.doc, (e) => {
    if (e.ephemeral && doomed(e.ownerID)) {
      removals.push(e.remove)
      return true
    }
  })
  if (removals.length === 0) return 0
  room.transactAsServer(() => {
    for (const remove of removals) {
      remove()
      count++
    }
  })
  return count
}

/** The final leave of client ids: their ephemeral models go; if nobody is left, unowned ones too. */
function leave(room: RoomHandle, ids: number[]): void {
  const table = identityOf(room)
  const gone = new Set(ids.filter((id) => !table.isLive(id)))
  const empty = room.connections.size === 0
  const n = destroy(room, (owner) => gone.has(owner) || (empty && owner === UNOWNED))
  if (n > 0) room.logger.debug({ room: room.name, ids: [...gone], removed: n }, 'lifetime: removed models of leaving client')
}

/**
 * At shutdown, persistent models owned by anonymous clients are released (ownerID -1):
 * an anonymous client can never prove it is the same user again once the room reloads.
 */
function releaseAnonymous(room: RoomHandle): void {
  const table = identityOf(room)
  const metas: Y.Map<unknown>[] = []
  walkModels(room.doc, (e) => {
    if (!e.ephemeral && e.meta && e.ownerID !== UNOWNED && table.isAnonymous(e.ownerID) === true) metas.push(e.meta)
  })
  if (metas.length > 0) room.transactAsServer(() => metas.forEach((m) => m.set(OWNER_ID, UNOWNED)))
}

export function lifetimePlugin(options: LifetimeOptions = {}): YroomPlugin {
  const grace = options.reconnectGraceMs ?? 0
  return {
    name: NAME,
    onLoad(room) {
      // A takeover in cluster mode: the clients are still there, through other nodes.
      if (room.handover) return
      // Nobody is connected yet: every ephemeral model left in storage is from a dead session,
      // and so is every anonymous owner (after a crash, the shutdown's release never ran).
      destroy(room, () => true)
      releaseAnonymous(room)
    },
    onDisconnect({ room, connection }) {
      const ids = identityOf(room).idsLeftBy(connection.id)
      if (grace === 0) return leave(room, ids)
      const state = stateOf(room)
      const t = setTimeout(() => {
        state.timers.delete(t)
        if (!room.closed) leave(room, ids)
      }, grace)
      state.timers.add(t)
    },
    onUnload(room) {
      const state = stateOf(room)
      for (const t of state.timers) clearTimeout(t)
      state.timers.clear()
      if (room.handover) return
      destroy(room, () => true)
      releaseAnonymous(room)
    },
  }
}
