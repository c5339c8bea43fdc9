/**
 * Paints the document: shapes (keyed by their key in `root.shapes`, so elements are reused),
 * selection and lock badges, and the other tabs' cursors. Everything is derived from the
 * models on each repaint; the document is the only state.
 */
import { ownerName, shapeEntries, type App } from './app.js'
import type { Shape } from './models.js'
import { setAttrs, strokePath, svgEl } from './svg.js'

export interface Layers {
  shapes: SVGGElement
  overlay: SVGGElement
  cursors: SVGGElement
}

export class Renderer {
  private shapeEls = new Map<string, SVGGElement>()
  private cursorEls = new Map<number, SVGGElement>()

  constructor(
    private readonly app: App,
    private readonly layers: Layers,
  ) {}

  render(): void {
    this.renderShapes()
    this.renderOverlay()
    this.renderCursors()
  }

  private renderShapes(): void {
    const layer = this.layers.shapes
    const seen = new Set<string>()
    shapeEntries(this.app).forEach(([key, shape], i) => {
      seen.add(key)
      let g = this.shapeEls.get(key)
      if (!g || g.dataset.kind !== shape.kind) {
        g?.remove()
        g = createShape(key, shape.kind)
        this.shapeEls.set(key, g)
      }
      if (layer.children[i] !== g) layer.insertBefore(g, layer.children[i] ?? null)
      this.updateShape(g, key, shape)
    })
    for (const [key, g] of this.shapeEls) {
      if (!seen.has(key)) {
        g.remove()
        this.shapeEls.delete(key)
      }
    }
  }

  private updateShape(g: SVGGElement, key: string, s: Shape): void {
    const owner = s.ownerIDSelf
    setAttrs(g, {
      transform: `translate(${s.x} ${s.y})`,
      'data-locked': owner === -1 ? 'no' : owner === this.app.room.clientID ? 'mine' : 'other',
    })
    const body = g.firstElementChild as SVGElement
    if (s.kind === 'stroke') {
      const points = this.app.draft?.key === key ? this.app.draft.points : s.points
      const d = strokePath(points)
      setAttrs(body, { d, stroke: s.color, 'stroke-width': s.width })
      setAttrs(g.lastElementChild as SVGElement, { d })
    } else {
      const box = { x: Math.min(0, s.w), y: Math.min(0, s.h), w: Math.abs(s.w), h: Math.abs(s.h) }
      const common = { stroke: s.color, fill: s.color + '26' }
      if (s.kind === 'rect') setAttrs(body, { ...common, x: box.x, y: box.y, width: box.w, height: box.h })
      else setAttrs(body, { ...common, cx: box.x + box.w / 2, cy: box.y + box.h / 2, rx: box.w / 2, ry: box.h / 2 })
    }
  }

  /** Selection outline and lock badges, from the painted shapes' bounding boxes. */
  private renderOverlay(): void {
    const layer = this.layers.overlay
    layer.replaceChildren()
    for (const [key, shape] of shapeEntries(this.app)) {
      const g = this.shapeEls.get(key)
      if (!g) continue
      const selected = key === this.app.selected
      const locked = shape.ownerIDSelf !== -1
      if (!selected && !locked) continue
      const b = g.getBBox()
      const pad = 8 + (shape.kind === 'stroke' ? shape.width / 2 : 2)
      const box = { x: shape.x + b.x - pad, y: shape.y + b.y - pad, w: b.width + 2 * pad, h: b.height + 2 * pad }
      const mine = shape.ownerIDSelf === this.app.room.clientID
      const color = locked ? (mine ? '#16a34a' : '#dc2626') : '#3b82f6'
      if (selected || locked) {
        layer.append(svgEl('rect', { class: 'outline' + (selected ? ' selected' : ''), x: box.x, y: box.y, width: box.w, height: box.h, rx: 8, stroke: color }))
      }
      if (locked) lockBadge(layer, box.x + box.w, box.y, `locked by ${ownerName(this.app, shape.ownerIDSelf)}`, color, key)
    }
  }

  private renderCursors(): void {
    const seen = new Set<number>()
    for (const peer of this.app.board.peers) {
      const id = peer.ownerIDSelf
      if (id === this.app.room.clientID || id < 0 || peer.x < 0) continue
      seen.add(id)
      let g = this.cursorEls.get(id)
      if (!g) {
        g = createCursor(id)
        this.cursorEls.set(id, g)
        this.layers.cursors.append(g)
      }
      setAttrs(g, { transform: `translate(${peer.x} ${peer.y})` })
      setAttrs(g.children[0], { fill: peer.color })
      setAttrs(g.children[1], { fill: peer.color })
      const label = g.children[2] as SVGTextElement
      if (label.textContent !== peer.name) label.textContent = peer.name
      const width = label.getComputedTextLength() + 14
      setAttrs(g.children[1], { width })
    }
    for (const [id, g] of this.cursorEls) {
      if (!seen.has(id)) {
        g.remove()
        this.cursorEls.delete(id)
      }
    }
  }
}

function createShape(key: string, kind: string): SVGGElement {
  const g = svgEl('g', { class: `shape ${kind}`, 'data-key': key, 'data-kind': kind })
  if (kind === 'stroke') {
    g.append(svgEl('path', { class: 'ink' }), svgEl('path', { class: 'hit' }))
  } else {
    g.append(svgEl(kind === 'rect' ? 'rect' : 'ellipse', { class: 'box', 'stroke-width': 2.5, rx: kind === 'rect' ? 6 : 0 }))
  }
  return g
}

function createCursor(clientID: number): SVGGElement {
  const g = svgEl('g', { class: 'cursor', 'data-client': clientID })
  g.append(
    svgEl('path', { d: 'M0 0 L0 17 L4.5 12.5 L8 20 L11 18.6 L7.6 11.4 L13.5 11.2 Z', stroke: '#fff', 'stroke-width': 1.2 }),
    svgEl('rect', { x: 12, y: 18, rx: 6, height: 20 }),
    svgEl('text', { x: 19, y: 32 }),
  )
  return g
}

/** A "locked by …" pill above the shape's top-right corner, sized to its text. */
function lockBadge(layer: SVGGElement, right: number, top: number, text: string, color: string, key: string): void {
  const g = svgEl('g', { class: 'badge', 'data-badge-for': key })
  const pill = svgEl('rect', { height: 20, rx: 10, fill: color })
  const shackle = svgEl('path', { stroke: '#fff', fill: 'none', 'stroke-width': 1.6 })
  const body = svgEl('rect', { width: 9, height: 7, rx: 1.5, fill: '#fff' })
  const label = svgEl('text')
  label.textContent = text
  g.append(pill, shackle, body, label)
  layer.append(g)
  const width = label.getComputedTextLength() + 30
  const x = right - width
  const y = top - 24
  setAttrs(pill, { x, y, width })
  setAttrs(shackle, { d: `M${x + 9} ${y + 9} v-2.5 a3 3 0 0 1 6 0 v2.5` })
  setAttrs(body, { x: x + 7.5, y: y + 9 })
  setAttrs(label, { x: x + 21, y: y + 14 })
}
