/**
 * The authority plugin (SPEC §3, §4): binds client ids to connections and principals,
 * refuses updates written under someone else's id, and rejects (with compensation) every
 * change the ownership rules forbid. Enabled by default by `yroom serve`.
 */
import type { YroomPlugin, RoomHandle } from '../../server/plugin.js'
import { IdentityTable } from './identity.js'
import { Judge } from './rules.js'

export { Reason } from './rules.js'
export { IdentityTable } from './identity.js'

const NAME = 'authority'

/** The identity table of a room loaded with the authority plugin. */
export function identityOf(room: RoomHandle): IdentityTable {
  const t = room.pluginState.get(NAME)
  if (!(t instanceof IdentityTable)) throw new Error(`room ${room.name} was not loaded with the authority plugin`)
  return t
}

export function authorityPlugin(): YroomPlugin {
  return {
    name: NAME,
    async onLoad(room) {
      const table = new IdentityTable(room)
      await table.load()
      room.pluginState.set(NAME, table)
      // For the plugins that need to know whose ids are whose (lifetime, the datastore's).
      room.services.identity = table
    },
    onHello({ room, connection, clientID }) {
      // Held in memory like an awareness id: it is stored once the connection writes under it.
      const table = identityOf(room)
      const refusal = table.check(clientID, connection)
      if (refusal) throw refusal
      table.bindInMemory(clientID, connection)
    },
    beforeUpdate({ room, connection, structClients }) {
      const table = identityOf(room)
      // Nearly every update comes from ids its connection already holds: one lookup each.
      for (const id of structClients.keys()) {
        if (!table.isBoundForWriting(id, connection)) return table.bindAll(structClients.keys(), connection)
      }
    },
    onUpdate(ctx) {
      new Judge(ctx, identityOf(ctx.room)).run()
    },
    beforeAwareness({ room, connection, clientIds }) {
      const table = identityOf(room)
      return clientIds.filter((id) => table.bindInMemory(id, connection))
    },
    onDisconnect({ room, connection }) {
      identityOf(room).release(connection)
    },
    async onUnload(room) {
      await identityOf(room).flush()
    },
  }
}
