/**
 * Who is here: the awareness `user` field ({ name, color, colorLight }) is what
 * y-codemirror.next draws remote cursors with; the same states fill the "here now" list.
 * Awareness is not stored: a tab that closes disappears from everyone's list within seconds.
 */
import type { App } from './app.js'
import type { EditorUser } from './identity.js'

export function publishPresence(app: App, user: EditorUser, list: HTMLElement): void {
  const awareness = app.room.awareness
  awareness.setLocalStateField('user', user)
  const render = () => {
    const people: Array<{ id: number; name: string; color: string }> = []
    awareness.getStates().forEach((state, id) => {
      const u = state.user as Partial<EditorUser> | undefined
      if (u?.name) people.push({ id, name: u.name, color: u.color ?? '#64748b' })
    })
    people.sort((a, b) => (a.id === awareness.clientID ? -1 : b.id === awareness.clientID ? 1 : a.name.localeCompare(b.name)))
    list.replaceChildren(
      ...people.map((p) => {
        const li = document.createElement('li')
        li.dataset.client = String(p.id)
        const dot = document.createElement('span')
        dot.className = 'dot'
        dot.style.background = p.color
        li.append(dot, p.name + (p.id === awareness.clientID ? ' (you)' : ''))
        return li
      }),
    )
  }
  awareness.on('change', render)
  render()
}
