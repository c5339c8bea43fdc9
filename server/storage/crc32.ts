/**
 * CRC-32 (IEEE 802.3, the zlib / PNG polynomial), pure JavaScript: Node 20 has no
 * zlib.crc32. Slicing-by-8 tables, so a log entry of a few kilobytes costs microseconds.
 *
 * `crc32Update` works on the raw (pre-inverted) register so that a CRC can be fed in
 * pieces: start from CRC32_INIT, update with each piece, finish with crc32Final.
 */

const TABLES: Uint32Array[] = (() => {
  const t0 = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    t0[n] = c >>> 0
  }
  const tables = [t0]
  for (let s = 1; s < 8; s++) {
    const prev = tables[s - 1]
    const t = new Uint32Array(256)
    for (let n = 0; n < 256; n++) t[n] = (t0[prev[n] & 0xff] ^ (prev[n] >>> 8)) >>> 0
    tables.push(t)
  }
  return tables
})()
const [T0, T1, T2, T3, T4, T5, T6, T7] = TABLES

/** The register before any byte. */
export const CRC32_INIT = 0xffffffff

/** Feeds `bytes` into the register `crc` (not finished); returns the new register. */
export function crc32Update(crc: number, bytes: Uint8Array): number {
  let c = crc >>> 0
  let i = 0
  const n = bytes.length
  const end8 = n - (n % 8)
  while (i < end8) {
    const a = (bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24)) ^ c
    c =
      T7[a & 0xff] ^
      T6[(a >>> 8) & 0xff] ^
      T5[(a >>> 16) & 0xff] ^
      T4[a >>> 24] ^
      T3[bytes[i + 4]] ^
      T2[bytes[i + 5]] ^
      T1[bytes[i + 6]] ^
      T0[bytes[i + 7]]
    i += 8
  }
  while (i < n) c = T0[(c ^ bytes[i++]) & 0xff] ^ (c >>> 8)
  return c >>> 0
}

/** The CRC of everything fed into the register. */
export function crc32Final(crc: number): number {
  return (crc ^ 0xffffffff) >>> 0
}

/** CRC-32 of `bytes` (same value as zlib's crc32). */
export function crc32(bytes: Uint8Array): number {
  return crc32Final(crc32Update(CRC32_INIT, bytes))
}
