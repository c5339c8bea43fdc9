/**
 * Keeps one SectionView per section, in document order. Views are keyed by the section's
 * Y.Map, not by its key: when the server re-creates a section (a refused delete is restored
 * as a new Y.Map under the same key), the old view is bound to a dead Y.Text and is replaced.
 */
import type * as Y from 'yjs'
import { sortedSections, type App } from './app.js'
import { Section } from './models.js'
import { SectionView } from './section-view.js'

export class SectionList {
  private readonly views = new Map<Y.Map<unknown>, SectionView>()

  constructor(
    private readonly app: App,
    private readonly container: HTMLElement,
  ) {}

  /** The views in document order. */
  ordered(): SectionView[] {
    return sortedSections(this.app).flatMap(({ section }) => {
      const v = section.yMap && this.views.get(section.yMap)
      return v ? [v] : []
    })
  }

  /** Brings the views in line with the document: creates, removes, reorders, refreshes. */
  sync(): void {
    const entries = sortedSections(this.app)
    const live = new Set<Y.Map<unknown>>()
    entries.forEach(({ key, section }, i) => {
      const map = section.yMap
      if (!map) return
      live.add(map)
      let view = this.views.get(map)
      if (!view) {
        view = new SectionView(this.app, section, key)
        this.views.set(map, view)
      }
      // Move only what is out of place: re-inserting a focused editor would blur it.
      if (this.container.children[i] !== view.el) this.container.insertBefore(view.el, this.container.children[i] ?? null)
      view.refresh(i)
    })
    for (const [map, view] of this.views) {
      if (live.has(map)) continue
      view.destroy()
      this.views.delete(map)
    }
  }

  /** Adds an empty section at the end, persistent and unlocked, and focuses it once shown. */
  add(): void {
    const section = this.app.room.datastore.instantiate(Section, {
      in: this.app.doc.sections,
      ownedByClient: false,
      destroyWhenOwnerOrLastClientLeaves: false,
      // After the last one. Two sections added at once get the same number; the key orders them.
      init: { order: Math.max(0, ...sortedSections(this.app).map((e) => e.section.order)) + 1 },
    })
    this.sync()
    if (section.yMap) this.views.get(section.yMap)?.view.focus()
  }
}
