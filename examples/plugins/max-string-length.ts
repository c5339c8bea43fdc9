/**
 * Example plugin: reject string values longer than `max` characters anywhere in the
 * document. The rejected write is rolled back on the writer and never reaches anyone else;
 * other changes of the same update stay.
 *
 *   createServer({ plugins: [...defaultPlugins(), maxStringLength(280)] })
 */
import * as Y from 'yjs'
import type { YroomPlugin } from '../../server/index.js'

export function maxStringLength(max: number): YroomPlugin {
  return {
    name: 'max-string-length',
    onUpdate(ctx) {
      for (const change of ctx.view.changes) {
        if (change.kind !== 'insert') continue
        const content = change.item.content
        // Map values are ContentAny; text inserts are ContentString.
        const values = content instanceof Y.ContentString ? [content.str] : content.getContent()
        if (values.some((v) => typeof v === 'string' && v.length > max)) {
          ctx.reject(change, 'string-too-long', `strings are limited to ${max} characters`)
        }
      }
    },
  }
}
