/**
 * One section on screen: a header (number, lock state, lock button) and a CodeMirror view
 * bound to the section's Y.Text by y-codemirror.next.
 *
 * Each section has its own Y.UndoManager, handed to the binding (yCollab's `undoManager`
 * option, whose plugin adds the binding's origin to the tracked origins). It starts with no
 * tracked origins, so it tracks exactly what the user typed in this view: other people's
 * edits and the server's rollbacks arrive with other origins and are never undone by Ctrl+Z.
 */
import * as Y from 'yjs'
import { EditorState } from '@codemirror/state'
import { EditorView, drawSelection, keymap, placeholder } from '@codemirror/view'
import { defaultKeymap } from '@codemirror/commands'
import { yCollab, yUndoManagerKeymap } from 'y-codemirror.next'
import { userName, type App } from './app.js'
import { toggleLock } from './locks.js'
import type { Section } from './models.js'

/** Remote cursors keep their name label visible (y-codemirror.next shows it only on hover). */
const theme = EditorView.theme({
  '.cm-ySelectionInfo': { opacity: '1', fontFamily: 'inherit', borderRadius: '3px 3px 3px 0', padding: '0 4px' },
  '.cm-content': { minHeight: '3.5em', padding: '12px 0 8px' },
  '.cm-line': { lineHeight: '1.7' },
})

export class SectionView {
  readonly el: HTMLElement
  readonly view: EditorView
  readonly undo: Y.UndoManager
  private readonly label: HTMLElement
  private readonly badge: HTMLElement
  private readonly lockButton: HTMLButtonElement

  constructor(
    private readonly app: App,
    readonly section: Section,
    readonly key: string,
  ) {
    this.el = document.createElement('section')
    this.el.className = 'section'
    this.el.dataset.key = key
    const header = document.createElement('header')
    this.label = document.createElement('span')
    this.label.className = 'label'
    this.badge = document.createElement('span')
    this.badge.className = 'badge'
    this.lockButton = document.createElement('button')
    this.lockButton.className = 'lock'
    this.lockButton.addEventListener('click', () => toggleLock(app, section))
    header.append(this.label, this.badge, this.lockButton)
    const host = document.createElement('div')
    host.className = 'host'
    this.el.append(header, host)

    // Steps split after 500 ms without typing (Yjs's default), like a text editor's undo.
    this.undo = new Y.UndoManager(section.text, { trackedOrigins: new Set(), captureTimeout: 500 })
    this.view = new EditorView({
      parent: host,
      state: EditorState.create({
        doc: section.text.toString(),
        extensions: [
          keymap.of([...yUndoManagerKeymap, ...defaultKeymap]),
          drawSelection(),
          EditorView.lineWrapping,
          placeholder('Write here…'),
          yCollab(section.text, app.room.awareness, { undoManager: this.undo }),
          theme,
        ],
      }),
    })
  }

  /** Number and lock state, from the current model. */
  refresh(index: number): void {
    const s = this.section
    this.label.textContent = `§ ${index + 1}`
    const owner = s.ownerIDSelf
    const locked = owner !== -1
    const mine = s.isOwnedLocallySelf
    this.el.dataset.locked = !locked ? '' : mine ? 'me' : 'other'
    this.badge.textContent = locked ? `locked by ${userName(this.app, owner)}` : ''
    this.lockButton.textContent = mine ? 'Unlock' : 'Lock'
    this.lockButton.disabled = locked && !mine
    this.lockButton.title = mine
      ? 'Let others edit this section again'
      : locked
        ? 'Only the owner can unlock it; your edits here are undone by the server'
        : 'Own this section: the server rolls back everyone else’s edits in it'
  }

  destroy(): void {
    this.view.destroy()
    this.undo.destroy()
    this.el.remove()
  }
}
