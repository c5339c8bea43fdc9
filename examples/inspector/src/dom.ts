/** A few DOM helpers and formatters. */

type Attrs = Record<string, string | number | boolean | undefined>

/** Creates an element; attributes with `undefined` or `false` are left out. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Array<Node | string | null>): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue
    if (k === 'class') el.className = String(v)
    else if (k === 'style') el.style.cssText = String(v)
    else el.setAttribute(k, v === true ? '' : String(v))
  }
  for (const c of children) if (c !== null) el.append(c)
  return el
}

export function $(id: string): HTMLElement {
  return document.getElementById(id)!
}

export function bytes(n: number | null): string {
  if (n === null) return '—'
  if (n < 1024) return `${n} B`
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`
  return `${(n / 1024 / 1024).toFixed(1)} MiB`
}

export function time(t: number): string {
  return new Date(t).toLocaleTimeString(undefined, { hour12: false })
}

/** A model path as the tree shows it: `root/key/index`. */
export function pathText(path: unknown): string {
  return Array.isArray(path) ? path.join('/') : String(path ?? '')
}
