/**
 * The timeline: the room's size and update rate over the last minutes, drawn on a canvas.
 * Two lines, each scaled to its own maximum; hand-written rather than a chart library
 * (docs/inspector.md, "Timeline") — it is all the page needs.
 */
import type { SeriesPoint } from '../../../plugins/inspector/room-watch.js'
import { bytes } from './dom.js'

/** The timeline spans what was gathered, from half a minute up to five minutes. */
const MIN_WINDOW_MS = 30_000
const WINDOW_MS = 5 * 60_000

export class Chart {
  private points: SeriesPoint[] = []
  constructor(private canvas: HTMLCanvasElement) {
    new ResizeObserver(() => this.draw()).observe(canvas)
  }

  set(points: SeriesPoint[]): void {
    this.points = points
    this.draw()
  }

  add(p: SeriesPoint): void {
    this.points.push(p)
    const from = p.t - WINDOW_MS
    while (this.points.length > 0 && this.points[0].t < from) this.points.shift()
    this.draw()
  }

  private draw(): void {
    const c = this.canvas
    const dpr = window.devicePixelRatio || 1
    const w = c.clientWidth
    const hgt = c.clientHeight
    if (w === 0) return
    if (c.width !== Math.round(w * dpr)) c.width = Math.round(w * dpr)
    if (c.height !== Math.round(hgt * dpr)) c.height = Math.round(hgt * dpr)
    const g = c.getContext('2d')!
    g.setTransform(dpr, 0, 0, dpr, 0, 0)
    g.clearRect(0, 0, w, hgt)
    const pts = this.points
    const last = pts.length > 0 ? pts[pts.length - 1].t : Date.now()
    const span = Math.min(WINDOW_MS, Math.max(MIN_WINDOW_MS, pts.length > 0 ? last - pts[0].t : 0))
    const x = (t: number) => w - ((last - t) / span) * w
    const top = 14
    const plot = hgt - top - 4
    g.strokeStyle = '#e5e7eb'
    g.lineWidth = 1
    for (let i = 0; i <= 4; i++) {
      const yy = Math.round(top + (plot * i) / 4) + 0.5
      g.beginPath()
      g.moveTo(0, yy)
      g.lineTo(w, yy)
      g.stroke()
    }
    const line = (value: (p: SeriesPoint) => number, color: string): number => {
      const max = Math.max(1, ...pts.map(value))
      g.strokeStyle = color
      g.lineWidth = 1.5
      g.beginPath()
      pts.forEach((p, i) => {
        const yy = top + plot - (value(p) / max) * plot
        if (i === 0) g.moveTo(x(p.t), yy)
        else g.lineTo(x(p.t), yy)
      })
      g.stroke()
      return max
    }
    const maxSize = line((p) => p.size, '#2563eb')
    const maxRate = line((p) => p.updatesPerSecond, '#f97316')
    g.font = '11px system-ui, sans-serif'
    g.fillStyle = '#2563eb'
    g.fillText(`max ${bytes(maxSize)}`, 4, 11)
    g.fillStyle = '#f97316'
    const label = `max ${maxRate}/s`
    g.fillText(label, w - g.measureText(label).width - 4, 11)
  }
}
