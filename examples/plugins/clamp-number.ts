/**
 * Example plugin that transforms instead of rejecting: any number written to a property
 * named `key` is clamped to [min, max] by a server change in the same step, so every
 * replica (the writer included) ends with the clamped value.
 */
import * as Y from 'yjs'
import type { YroomPlugin } from '../../server/index.js'

export function clampNumber(key: string, min: number, max: number): YroomPlugin {
  return {
    name: `clamp-${key}`,
    onUpdate(ctx) {
      for (const change of ctx.view.changes) {
        if (change.kind !== 'insert' || change.key !== key || !(change.parent instanceof Y.Map)) continue
        const value = change.item.content.getContent()[0]
        if (typeof value !== 'number' || (value >= min && value <= max)) continue
        const map = change.parent
        ctx.serverEdit(() => map.set(key, Math.min(max, Math.max(min, value))))
      }
    },
  }
}
