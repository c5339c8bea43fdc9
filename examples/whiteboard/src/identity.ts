/** A display name and colour per tab (kept in sessionStorage, so a reload keeps them). */

const ADJECTIVES = ['Amber', 'Brave', 'Calm', 'Deft', 'Eager', 'Fuzzy', 'Gentle', 'Happy', 'Jolly', 'Keen', 'Lucky', 'Merry', 'Nimble', 'Quick', 'Sunny', 'Witty']
const ANIMALS = ['Otter', 'Falcon', 'Panda', 'Lynx', 'Heron', 'Koala', 'Badger', 'Gecko', 'Marten', 'Puffin', 'Raven', 'Seal', 'Tapir', 'Wombat', 'Yak', 'Zebu']
export const PALETTE = ['#ef4444', '#f97316', '#eab308', '#22c55e', '#14b8a6', '#3b82f6', '#8b5cf6', '#ec4899']

function pick<T>(list: readonly T[]): T {
  return list[Math.floor(Math.random() * list.length)]
}

export interface Identity {
  name: string
  color: string
}

export function identity(params: URLSearchParams): Identity {
  const stored = sessionStorage.getItem('yroom-whiteboard-identity')
  const saved = stored ? (JSON.parse(stored) as Partial<Identity>) : {}
  const id: Identity = {
    name: params.get('name') ?? saved.name ?? `${pick(ADJECTIVES)} ${pick(ANIMALS)}`,
    color: saved.color ?? pick(PALETTE),
  }
  sessionStorage.setItem('yroom-whiteboard-identity', JSON.stringify(id))
  return id
}
