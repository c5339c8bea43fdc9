/**
 * How deeply a JSON text nests, found without parsing it. JSON.parse copes with any depth,
 * but JSON.stringify (and every encoder after it) recurses: a state or value thousands of
 * levels deep would make each later encoding of it throw, for every client of the room.
 * So such text is refused where it arrives.
 */

const QUOTE = 0x22
const BACKSLASH = 0x5c
const OPEN_ARRAY = 0x5b
const CLOSE_ARRAY = 0x5d
const OPEN_OBJECT = 0x7b
const CLOSE_OBJECT = 0x7d

/** Most nesting a JSON text may have (lib0's `any` values are held to the same in update-layout). */
export const MAX_JSON_DEPTH = 100

/**
 * True when JSON text nests deeper than `max`. `at(i)` gives the i-th code unit of the
 * text (UTF-8 bytes or UTF-16 units: the structural characters are ASCII either way),
 * for i in [start, end).
 */
function tooDeep(at: (i: number) => number, start: number, end: number, max: number): boolean {
  let depth = 0
  let inString = false
  for (let i = start; i < end; i++) {
    const c = at(i)
    if (inString) {
      if (c === BACKSLASH) i++
      else if (c === QUOTE) inString = false
    } else if (c === QUOTE) inString = true
    else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (++depth > max) return true
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) depth--
  }
  return false
}

/** jsonTooDeep over UTF-8 bytes `bytes[start, end)`. */
export function jsonBytesTooDeep(bytes: Uint8Array, start: number, end: number, max = MAX_JSON_DEPTH): boolean {
  return tooDeep((i) => bytes[i], start, end, max)
}

/** True when the JSON text nests deeper than `max`. */
export function jsonTooDeep(json: string, max = MAX_JSON_DEPTH): boolean {
  return tooDeep((i) => json.charCodeAt(i), 0, json.length, max)
}
