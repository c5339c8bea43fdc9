/**
 * The vote counter.
 *
 * A counter must not be a plain CRDT number: two tabs incrementing 10 at once both write 11.
 *
 * ACTIONS HOOK (SPEC §8). When the SDK room offers `patch` / `updated` and the room holds an
 * action-driven counter (a model at `doc.getMap('counters').get('votes')` whose
 * `$meta.actions` is 'counter', created by server code, e.g. an `onLoad` plugin, with the
 * actions plugin registered), votes go through `room.patch(model, 'increment', 1)`: the
 * server applies every increment on its latest state, and `room.updated` shows the result.
 *
 * Otherwise (e.g. `npm start`, which runs without the actions plugin) a conflict-free tally
 * works with plain Yjs: each tab writes only its own key (its client id) of the top-level map
 * `votes`, and the total is the sum. No two tabs ever write the same key, so nothing is lost.
 */
import * as Y from 'yjs'
import { defineActions } from '../../../src/actions/define.js'
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

type Snapshot = Readonly<Record<string, unknown>>

/** The part of the actions API (SPEC §8) this widget needs; present once the SDK has it. */
interface ActionsApi {
  patch(model: Y.Map<unknown>, action: string, ...args: number[]): Promise<Snapshot>
  updated(model: Y.Map<unknown>, callback: (snapshot: Snapshot) => void): () => void
}

function actionsApi(room: Room): ActionsApi | null {
  const r = room as unknown as Partial<ActionsApi>
  return typeof r.patch === 'function' && typeof r.updated === 'function' ? (r as ActionsApi) : null
}

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
  const api = actionsApi(room)
  const model = api ? actionCounter(room.doc) : null
  if (api && model) {
    let value = 0
    api.updated(model, (s) => {
      value = typeof s.value === 'number' ? s.value : 0
      show(value, 'actions')
    })
    return {
      mode: 'actions',
      total: () => value,
      vote: () => void api.patch(model, 'increment', 1).catch((err: Error) => console.warn('vote refused:', err.message)),
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
