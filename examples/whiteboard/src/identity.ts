/**
 * A display name per tab (kept in sessionStorage, so a reload keeps it) and a colour per
 * client id: clientColor (src/shared/client-color.ts), the colour the room inspector draws
 * this client's owner badges in.
 */
import { clientColor, CLIENT_PALETTE } from '../../../src/index.js'

const ADJECTIVES = ['Amber', 'Brave', 'Calm', 'Deft', 'Eager', 'Fuzzy', 'Gentle', 'Happy', 'Jolly', 'Keen', 'Lucky', 'Merry', 'Nimble', 'Quick', 'Sunny', 'Witty']
const ANIMALS = ['Otter', 'Falcon', 'Panda', 'Lynx', 'Heron', 'Koala', 'Badger', 'Gecko', 'Marten', 'Puffin', 'Raven', 'Seal', 'Tapir', 'Wombat', 'Yak', 'Zebu']
export const PALETTE = CLIENT_PALETTE

function pick<T>(list: readonly T[]): T {
  return list[Math.floor(Math.random() * list.length)]
}

export interface Identity {
  name: string
  color: string
}

/** `clientID`: the colour is that client's (the whiteboard); without it, the tab's last one (the editor). */
export function identity(params: URLSearchParams, clientID?: number): Identity {
  const stored = sessionStorage.getItem('yroom-whiteboard-identity')
  const saved = stored ? (JSON.parse(stored) as Partial<Identity>) : {}
  const id: Identity = {
    name: params.get('name') ?? saved.name ?? `${pick(ADJECTIVES)} ${pick(ANIMALS)}`,
    color: clientID !== undefined ? clientColor(clientID) : (saved.color ?? pick(PALETTE)),
  }
  sessionStorage.setItem('yroom-whiteboard-identity', JSON.stringify(id))
  return id
}
