/**
 * Timestamps the load generator embeds in what it writes, and finds again in received frames
 * without decoding Yjs: a marker is an ASCII string stored as a Y.Map value, so its bytes
 * appear verbatim in every update that carries it (merged or not).
 *
 *   MAGIC (3 bytes) + writer id (6 digits) + send time in µs since generator start (12 digits)
 */
export const MAGIC = 'YbM'
/** Magic of writes that the server must reject (rejection storm); never counted as deliveries. */
export const MAGIC_REJECTED = 'YbX'
const WRITER_DIGITS = 6
const TS_DIGITS = 12
export const MARKER_LENGTH = MAGIC.length + WRITER_DIGITS + TS_DIGITS

export function marker(writer: number, tsMicros: number, magic = MAGIC): string {
  return magic + String(writer).padStart(WRITER_DIGITS, '0') + String(tsMicros).padStart(TS_DIGITS, '0')
}

/** Value of `n` ASCII digits at `at`, or -1 if one is not a digit. */
function digits(buf: Buffer, at: number, n: number): number {
  let v = 0
  for (let i = at; i < at + n; i++) {
    const d = buf[i] - 48
    if (d < 0 || d > 9) return -1
    v = v * 10 + d
  }
  return v
}

const M0 = MAGIC.charCodeAt(0)
const M1 = MAGIC.charCodeAt(1)
const M2 = MAGIC.charCodeAt(2)

/**
 * Calls `visit(writer, tsMicros)` for each well-formed marker in `buf` from `from` on.
 * Jumps between occurrences of the magic's first byte with `indexOf` (memchr): three times
 * cheaper than a byte loop on a tick's 2 KB frame, and the generator scans thousands a second.
 */
export function scanMarkers(buf: Buffer, from: number, visit: (writer: number, ts: number) => void): void {
  const last = buf.length - MARKER_LENGTH
  let i = buf.indexOf(M0, from)
  while (i !== -1 && i <= last) {
    if (buf[i + 1] === M1 && buf[i + 2] === M2) {
      const writer = digits(buf, i + MAGIC.length, WRITER_DIGITS)
      const ts = writer < 0 ? -1 : digits(buf, i + MAGIC.length + WRITER_DIGITS, TS_DIGITS)
      if (ts >= 0) {
        visit(writer, ts)
        i = buf.indexOf(M0, i + MARKER_LENGTH)
        continue
      }
    }
    i = buf.indexOf(M0, i + 1)
  }
}
