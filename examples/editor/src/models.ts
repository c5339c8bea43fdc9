/**
 * The editor's datastore schemas.
 *
 * - A document is one room (`editor-<name>`). Its root model holds the sections, a set of
 *   persistent, unowned models (`destroyWhenOwnerOrLastClientLeaves: false`). Each section is a
 *   Y.Map model with its own Y.Text, so it can be owned on its own: locking a section = owning
 *   it with `preventOwnershipTakeover`, and the server rolls back everyone else's edits there.
 * - The list of documents lives in one more room, `editor-index`, in a StringKeyDictionary:
 *   creating a name is a server-side compare-and-set, so two people creating "notes" at once
 *   do not both think they made it.
 */
import { defineModel, prop, type InstanceOf } from '../../../src/index.js'

export const Section = defineModel('EditorSection', {
  text: prop.text(),
  /** Position in the document (then the key). Set iteration order differs between replicas, this does not. */
  order: prop.number(0),
})
export type Section = InstanceOf<typeof Section>

export const EditorDoc = defineModel('EditorDocument', {
  sections: prop.set(Section),
})
export type EditorDoc = InstanceOf<typeof EditorDoc>

export const DocEntry = defineModel('EditorDocEntry', {
  createdAt: prop.number(0),
})

export const DocIndex = defineModel('EditorDocIndex', {
  docs: prop.stringKeyDictionary(DocEntry),
})
export type DocIndex = InstanceOf<typeof DocIndex>
