/**
 * Ownership and lifetime flags: instantiate a player owned by this client, read the
 * hierarchy helpers, watch ownerIDSelfDidChange, see a takeover refused.
 * Run: npx tsx examples/sdk/ownership.ts
 */
import { connect, defineModel, prop } from '../../src/index.js'
import { eventually, runIfMain, withServer } from './_setup.js'

const Hand = defineModel('Hand', { x: prop.number(0), y: prop.number(0) })
const Avatar = defineModel('Avatar', { name: prop.string(''), left: prop.model(Hand), right: prop.model(Hand) })

export async function main(): Promise<string[]> {
  const log: string[] = []
  await withServer(async (url) => {
    const me = connect({ url, room: 'ownership-example' })
    const other = connect({ url, room: 'ownership-example' })
    await Promise.all([me.whenSynced(), other.whenSynced()])

    // Creation and claim reach the server in one update (Normcore's Instantiate).
    const avatar = me.datastore.instantiate(Avatar, {
      ownedByClient: true,
      preventOwnershipTakeover: true,
      destroyWhenOwnerOrLastClientLeaves: true, // the server removes it when `me` leaves
      init: { name: 'me' },
    })
    log.push(`mine: ownerIDSelf=${avatar.ownerIDSelf === me.clientID ? 'me' : avatar.ownerIDSelf}, isOwnedLocallySelf=${avatar.isOwnedLocallySelf}`)
    // Children inherit: the hand has no owner of its own but is owned in the hierarchy.
    log.push(`hand: isUnownedSelf=${avatar.left.isUnownedSelf}, isOwnedLocallyInHierarchy=${avatar.left.isOwnedLocallyInHierarchy}`)

    await eventually(() => [...other.datastore.instancesOf(Avatar)].length === 1)
    const seen = [...other.datastore.instancesOf(Avatar)][0]
    log.push(`theirs: isOwnedRemotelySelf=${seen.isOwnedRemotelySelf}, right hand isOwnedRemotelyInHierarchy=${seen.right.isOwnedRemotelyInHierarchy}`)
    // preventOwnershipTakeover: the SDK refuses at once what the server would refuse.
    log.push(`other.requestOwnership() -> ${seen.requestOwnership()}`)

    const who = (id: number) => (id === me.clientID ? 'me' : id === other.clientID ? 'other' : String(id))
    seen.on('ownerIDSelfDidChange', (e) => log.push(`other sees owner ${who(e.previous)} -> ${who(e.ownerID)} (${e.source})`))
    avatar.clearOwnership()
    await eventually(() => seen.isUnownedSelf)
    log.push(`other.requestOwnership() now -> ${seen.requestOwnership()}, isOwnedLocallySelf=${seen.isOwnedLocallySelf}`)

    // Lifetime: when the owner leaves, the server deletes models flagged destroyWhenOwnerOrLastClientLeaves.
    other.datastore.instantiate(Hand) // owned by `other`, destroyed when it leaves (the default)
    await eventually(() => [...me.datastore.instancesOf(Hand)].length === 1)
    const theirHand = [...me.datastore.instancesOf(Hand)][0]
    me.datastore.instances.on('modelRemoved', (e) => log.push(`me: ${e.model.yMap === theirHand.yMap ? 'their hand' : 'a model'} was removed (${e.source})`))
    other.destroy()
    await eventually(() => theirHand.isDeleted)
    me.destroy()
  })
  return log
}

runIfMain(import.meta.url, async () => console.log((await main()).join('\n')))
