/** The state one tab keeps besides the document, and lookups shared by the UI modules. */
import type { Room } from '../../../src/index.js'
import type { EditorDoc, Section } from './models.js'
import type { EditorDoc as EditorDocType } from './models.js'

export interface App {
  room: Room<typeof EditorDocType>
  doc: EditorDoc
  /** The document's name: the room is `editor-<name>`, the page is `/editor/#<name>`. */
  docName: string
  user: { name: string; color: string }
  /** Shows a short message at the bottom of the page. */
  notify(text: string, kind?: 'info' | 'warn'): void
}

export interface SectionEntry {
  key: string
  section: Section
}

/** The sections in document order (`order`, then key: the same on every replica). */
export function sortedSections(app: App): SectionEntry[] {
  const out: SectionEntry[] = []
  for (const section of app.doc.sections) {
    const key = app.doc.sections.keyOf(section)
    if (key !== null) out.push({ key, section })
  }
  return out.sort((a, b) => a.section.order - b.section.order || (a.key < b.key ? -1 : 1))
}

/**
 * "you", the name another tab publishes in its awareness `user` field (the same field
 * y-codemirror.next labels remote cursors with), or a note that the owner is gone:
 * an anonymous lock outlives its tab until the room unloads.
 */
export function userName(app: App, clientID: number): string {
  if (clientID === app.room.clientID) return 'you'
  if (clientID === 0) return 'the server'
  const user = app.room.awareness.getStates().get(clientID)?.user as { name?: string } | undefined
  return user?.name ?? `a user who left (#${clientID})`
}
