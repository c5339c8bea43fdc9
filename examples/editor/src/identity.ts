/**
 * The user's name and colours. The name and colour come from the whiteboard's identity (one
 * per tab, kept in sessionStorage), so a tab shows the same person in both examples.
 * y-codemirror.next reads `colorLight` for the selection highlight behind a remote cursor.
 */
import { identity } from '../../whiteboard/src/identity.js'

export interface EditorUser {
  name: string
  color: string
  colorLight: string
}

export function editorUser(params: URLSearchParams): EditorUser {
  const { name, color } = identity(params)
  return { name, color, colorLight: `${color}33` }
}
