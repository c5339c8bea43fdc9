/**
 * The document list: a StringKeyDictionary in the `editor-index` room. Opening a document
 * registers its name if it is not listed; "New" does the same and opens it only if it was free.
 * An insert is a compare-and-set against this client's view of the key: inserting a name we
 * saw absent fails when someone else created it meanwhile (an insert over a name we saw
 * would replace it, hence the check first).
 *
 * A page shows one document. Switching documents reloads the page instead of swapping rooms
 * in place: editors, undo stacks and cursors all belong to one room, and a reload drops them
 * all at once.
 */
import { connect, RequestInterruptedError } from '../../../src/index.js'
import { INDEX_ROOM, slugify } from './doc-name.js'
import { DocIndex } from './models.js'

export interface DocumentList {
  names(): string[]
  /** Creates `title` (slugified); resolves to the name, or null when it was taken or invalid. */
  create(title: string): Promise<string | null>
}

export function openDocumentList(url: string, current: string, onChange: (names: string[]) => void): DocumentList {
  const index = connect({ url, room: INDEX_ROOM, model: DocIndex })
  const docs = () => index.datastore.root.docs
  const names = () => [...docs().keys()].sort()
  /** True when this call created the entry. */
  const register = async (name: string): Promise<boolean> => {
    if (docs().has(name)) return false
    try {
      return await docs().insert(name, { createdAt: Date.now() })
    } catch (err) {
      if (err instanceof RequestInterruptedError) return false // the outcome is unknown; the next sync re-registers
      throw err
    }
  }
  index.doc.on('afterTransaction', () => onChange(names()))
  index.on('synced', () => {
    void register(current)
    onChange(names())
  })
  return {
    names,
    async create(title) {
      const name = slugify(title)
      if (name === null) return null
      await index.whenSynced()
      return (await register(name)) ? name : null
    },
  }
}

/** The list in the sidebar: links to `#name`, the open one marked. */
export function renderDocumentList(el: HTMLElement, names: string[], current: string): void {
  el.replaceChildren(
    ...names.map((name) => {
      const li = document.createElement('li')
      const a = document.createElement('a')
      a.href = `#${name}`
      a.textContent = name
      if (name === current) a.setAttribute('aria-current', 'page')
      li.append(a)
      return li
    }),
  )
}
