/**
 * A client's badge: coloured with clientColor (src/shared/client-color.ts), the colour the
 * whiteboard draws that client's cursor in.
 */
import { clientColor } from '../../../src/shared/client-color.js'
import { h } from './dom.js'

/** Principals by client id, from the clients list (shown in the badge's tooltip). */
export const principals = new Map<number, string>()

export function ownerBadge(owner: number | null | undefined): HTMLElement {
  if (owner === undefined || owner === null || owner < 0) return h('span', { class: 'badge unowned', 'data-owner': '-1', title: 'unowned: anyone may write or take it' }, 'unowned')
  if (owner === 0) return h('span', { class: 'badge', 'data-owner': '0', style: `background:${clientColor(0)}`, title: 'owned by the server' }, 'server')
  const who = principals.get(owner)
  return h('span', { class: 'badge', 'data-owner': owner, style: `background:${clientColor(owner)}`, title: `owned by client ${owner}${who ? ` (${who})` : ''}` }, `#${owner}`)
}

export function clientBadge(clientID: number | null): HTMLElement {
  if (clientID === null) return h('span', { class: 'badge unowned' }, 'no hello')
  return h('span', { class: 'badge', 'data-client': clientID, style: `background:${clientColor(clientID)}` }, `#${clientID}`)
}
