/**
 * lib0's varUint (7 bits per byte, low bits first, high bit set on all but the last byte),
 * sized and written in place: the tick merge sizes its output once and writes into it,
 * where a lib0 encoder would grow buffers allocated outside the JavaScript heap.
 */

/** Bytes of lib0's varUint encoding of `n` (7 bits per byte). */
export function varUintLength(n: number): number {
  let len = 1
  while (n > 127) {
    n = Math.floor(n / 128)
    len++
  }
  return len
}

/** Writes `n` as lib0's varUint at `pos`; returns the position after it. */
export function writeVarUintAt(out: Uint8Array, pos: number, n: number): number {
  while (n > 127) {
    out[pos++] = 128 | (n & 127) // & keeps the low 7 bits even above 2^31
    n = Math.floor(n / 128)
  }
  out[pos++] = n
  return pos
}
