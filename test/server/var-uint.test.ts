/** The in-place varUint writer (server/codec/var-uint.ts) writes exactly what lib0's encoder writes. */
import { describe, expect, it } from 'vitest'
import * as encoding from 'lib0/encoding'
import { varUintLength, writeVarUintAt } from '../../server/codec/var-uint.js'

describe('varUint in place', () => {
  it('matches lib0 byte for byte, up to the largest safe integer', () => {
    const values = [0, 1, 127, 128, 255, 16383, 16384, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32 + 5, 0xfffffff0, 2 ** 53 - 1]
    for (const n of values) {
      const enc = encoding.createEncoder()
      encoding.writeVarUint(enc, n)
      const expected = encoding.toUint8Array(enc)
      const out = new Uint8Array(varUintLength(n) + 2)
      out[0] = 0xaa
      const end = writeVarUintAt(out, 1, n)
      expect(varUintLength(n), `length of ${n}`).toBe(expected.length)
      expect(end).toBe(1 + expected.length)
      expect([...out.subarray(1, end)], `bytes of ${n}`).toEqual([...expected])
      expect(out[0]).toBe(0xaa) // nothing written before pos
      expect(out[end]).toBe(0) // nor after
    }
  })
})
