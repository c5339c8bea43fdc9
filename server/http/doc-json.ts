/**
 * A document as JSON: each root type by name, Y.Map → object, Y.Array → array, Y.Text →
 * string, nested; `$meta` maps and the `$room` map included. Binary values become base64.
 *
 * A root that arrived only through updates is an untyped AbstractType until someone asks for
 * it by class; it is read by its structure here (keys: a map; string content: text; else
 * an array), without retyping it in the document.
 */
import * as Y from 'yjs'

export function docToJson(doc: Y.Doc): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [name, type] of doc.share) out[name] = typeToJson(type)
  return out
}

function typeToJson(type: Y.AbstractType<any>): unknown {
  if (type instanceof Y.Text) return type.toString()
  if (type instanceof Y.Map) return mapEntries(type)
  if (type instanceof Y.Array) return type.toArray().map(valueToJson)
  if (type instanceof Y.XmlFragment || type instanceof Y.XmlElement) return type.toString()
  // Untyped root: by structure.
  if (type._map.size > 0) return mapEntries(type)
  const values: unknown[] = []
  let text = ''
  let isText = false
  for (let item = type._start; item !== null; item = item.right) {
    if (item.deleted || !item.countable) continue
    if (item.content instanceof Y.ContentString) {
      isText = true
      text += item.content.str
    } else values.push(...item.content.getContent().map(valueToJson))
  }
  return isText ? text : values
}

function mapEntries(type: Y.AbstractType<any>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [key, item] of type._map) {
    if (item.deleted) continue
    const content = item.content.getContent()
    out[key] = valueToJson(content[content.length - 1])
  }
  return out
}

function valueToJson(v: unknown): unknown {
  if (v instanceof Y.AbstractType) return typeToJson(v)
  if (v instanceof Uint8Array) return Buffer.from(v).toString('base64')
  if (v instanceof Y.Doc) return null // subdocuments are not served
  return v
}
