/**
 * Walks one value of lib0's `writeAny` encoding (what Y.Map and Y.Array values, and the
 * extension protocol's parameters, use) without building it, and refuses one nested too
 * deeply: lib0 reads, writes and compares such values recursively, so a value thousands of
 * levels deep would overflow the stack wherever it is handled next.
 */
import * as decoding from 'lib0/decoding'
import { MAX_JSON_DEPTH } from './json-depth.js'

function skip(d: decoding.Decoder, n: number): void {
  if (n < 0 || d.pos + n > d.arr.length) throw new RangeError('unexpected end of value')
  d.pos += n
}

/** Skips one `any` value at the decoder's position; throws when malformed or nested deeper than `max`. */
export function skipAny(d: decoding.Decoder, max = MAX_JSON_DEPTH, depth = 0): void {
  if (depth > max) throw new RangeError(`value nested deeper than ${max}`)
  if (d.pos >= d.arr.length) throw new RangeError('unexpected end of value')
  const type = d.arr[d.pos++]
  switch (type) {
    case 127: // undefined
    case 126: // null
    case 121: // false
    case 120: // true
      return
    case 125: // varInt: same continuation bits as varUint
      decoding.readVarUint(d)
      return
    case 124: // float32
      skip(d, 4)
      return
    case 123: // float64
    case 122: // bigint64
      skip(d, 8)
      return
    case 119: // string
    case 116: // Uint8Array
      skip(d, decoding.readVarUint(d))
      return
    case 118: {
      // object: count, then key and value pairs
      const n = decoding.readVarUint(d)
      for (let i = 0; i < n; i++) {
        skip(d, decoding.readVarUint(d))
        skipAny(d, max, depth + 1)
      }
      return
    }
    case 117: {
      // array: count, then values
      const n = decoding.readVarUint(d)
      for (let i = 0; i < n; i++) skipAny(d, max, depth + 1)
      return
    }
    default:
      throw new RangeError(`unknown value type ${type}`)
  }
}

/** Reads one `any` value, refusing (before building anything) one nested deeper than `max`. */
export function readAnyChecked(d: decoding.Decoder, max = MAX_JSON_DEPTH): unknown {
  const start = d.pos
  skipAny(d, max)
  d.pos = start
  return decoding.readAny(d)
}
