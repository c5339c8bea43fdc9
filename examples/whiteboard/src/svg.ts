/** Tiny helpers for building SVG without a framework. */
const NS = 'http://www.w3.org/2000/svg'

export function svgEl<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number> = {}): SVGElementTagNameMap[K] {
  const el = document.createElementNS(NS, tag)
  setAttrs(el, attrs)
  return el
}

/** Sets attributes, touching the DOM only where a value changed. */
export function setAttrs(el: Element, attrs: Record<string, string | number>): void {
  for (const [k, v] of Object.entries(attrs)) {
    const s = String(v)
    if (el.getAttribute(k) !== s) el.setAttribute(k, s)
  }
}

/** A smooth path through flat [x0, y0, x1, y1, ...] points (quadratic curves through midpoints). */
export function strokePath(p: readonly number[]): string {
  if (p.length < 2) return ''
  if (p.length < 6) {
    const [x0, y0] = p
    const x1 = p.length >= 4 ? p[2] : x0 + 0.01
    const y1 = p.length >= 4 ? p[3] : y0
    return `M${x0} ${y0}L${x1} ${y1}`
  }
  let d = `M${p[0]} ${p[1]}`
  for (let i = 2; i < p.length - 2; i += 2) {
    const mx = (p[i] + p[i + 2]) / 2
    const my = (p[i + 1] + p[i + 3]) / 2
    d += `Q${p[i]} ${p[i + 1]} ${mx} ${my}`
  }
  return d + `L${p[p.length - 2]} ${p[p.length - 1]}`
}
