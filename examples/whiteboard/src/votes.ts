/**
 * The vote counter.
 *
 * A counter must not be a plain CRDT number: two tabs incrementing 10 at once both write 11.
 *
 * With actions (SPEC §8): when the room holds an action-driven counter (a server-owned model
 * at `doc.getMap('counters').get('votes')` whose `$meta.actions` is 'counter' — `yroom serve`
 * creates it with the migration in ../server-actions.ts), votes go through
 * `room.patch(model, 'increment', 1)`: the server applies every increment on its latest
 * state, and `room.updated` shows the result (optimistically, then confirmed).
 *
 * Without the actions plugin on the server, a conflict-free tally works with plain Yjs: each
 * tab writes only its own key (its client id) of the top-level map `votes`, and the total is
 * the sum. No two tabs ever write the same key, so nothing is lost.
 */
import * as Y from 'yjs'
import { defineActions } from '../../../src/shared/actions/define.js'
import { META_KEY, type Room } from '../../../src/index.js'

/** The action set the server side would register under the same name. */
export const counterActions = defineActions(
  {
    increment: (data: { value: number }, by: number = 1) => {
      data.value = (data.value ?? 0) + by
    },
  },
  { name: 'counter', actionOnly: true },
)

function actionCounter(doc: Y.Doc): Y.Map<unknown> | null {
  const m = doc.getMap('counters').get('votes')
  if (!(m instanceof Y.Map)) return null
  const meta = m.get(META_KEY)
  return meta instanceof Y.Map && meta.get('actions') === counterActions.name ? (m as Y.Map<unknown>) : null
}

export interface VoteWidget {
  mode: 'actions' | 'tally'
  total(): number
  vote(): void
}

/** Binds the vote button; `show` is called with the total whenever it changes. */
export function createVotes(room: Room, show: (total: number, mode: VoteWidget['mode']) => void): VoteWidget {
  const model = actionCounter(room.doc)
  if (model) {
    let value = 0
    room.updated(model, (s) => {
      value = typeof s.value === 'number' ? s.value : 0
      show(value, 'actions')
    })
    return {
      mode: 'actions',
      total: () => value,
      vote: () => void room.patch(model, 'increment', 1).catch((err: Error) => console.warn('vote refused:', err.message)),
    }
  }
  const tally = room.doc.getMap<number>('votes')
  const total = () => [...tally.values()].reduce((sum, n) => sum + (typeof n === 'number' ? n : 0), 0)
  tally.observe(() => show(total(), 'tally'))
  show(total(), 'tally')
  const mine = String(room.clientID)
  return {
    mode: 'tally',
    total,
    vote: () => tally.set(mine, (tally.get(mine) ?? 0) + 1),
  }
}
