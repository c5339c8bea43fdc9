/** SVG chart of the capacity scenario: p99 latency against offered load, one line per server. */
import type { CapacityResult } from '../scenarios/capacity.js'
import { MAX_P99_MS } from '../scenarios/capacity.js'
import { SERVERS } from '../servers/servers.js'

const W = 760
const H = 440
const M = { left: 70, right: 200, top: 40, bottom: 60 }
const COLORS: Record<string, string> = { yroom: '#d62728', hocuspocus: '#1f77b4', 'y-websocket-server': '#2ca02c', 'yroom-noauth': '#ff7f0e' }
const Y_MIN = 1
const Y_MAX = 10_000

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;')

function niceStep(max: number): number {
  const raw = max / 6
  const p = 10 ** Math.floor(Math.log10(raw))
  return [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw)!
}

export function capacityChart(results: CapacityResult[], title: string): string {
  const maxX = Math.max(1, ...results.flatMap((r) => r.steps.map((s) => s.offered / 1000)))
  const step = niceStep(maxX)
  const xMax = Math.ceil(maxX / step) * step
  const pw = W - M.left - M.right
  const ph = H - M.top - M.bottom
  const x = (v: number) => M.left + (v / xMax) * pw
  const y = (ms: number) => {
    const c = Math.min(Y_MAX, Math.max(Y_MIN, ms))
    return M.top + ph - ((Math.log10(c) - Math.log10(Y_MIN)) / (Math.log10(Y_MAX) - Math.log10(Y_MIN))) * ph
  }
  const out: string[] = []
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`)
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`)
  out.push(`<text x="${M.left}" y="22" font-size="15" font-weight="bold">${esc(title)}</text>`)
  for (let v = 0; v <= xMax + 1e-9; v += step) {
    out.push(`<line x1="${x(v)}" y1="${M.top}" x2="${x(v)}" y2="${M.top + ph}" stroke="#eee"/>`)
    out.push(`<text x="${x(v)}" y="${M.top + ph + 18}" text-anchor="middle">${+v.toFixed(0)}k</text>`)
  }
  for (const ms of [1, 10, 100, 1000, 10000]) {
    out.push(`<line x1="${M.left}" y1="${y(ms)}" x2="${M.left + pw}" y2="${y(ms)}" stroke="#eee"/>`)
    out.push(`<text x="${M.left - 8}" y="${y(ms) + 4}" text-anchor="end">${ms >= 1000 ? ms / 1000 + ' s' : ms + ' ms'}</text>`)
  }
  out.push(`<line x1="${M.left}" y1="${y(MAX_P99_MS)}" x2="${M.left + pw}" y2="${y(MAX_P99_MS)}" stroke="#888" stroke-dasharray="6 4"/>`)
  out.push(`<text x="${M.left + pw - 4}" y="${y(MAX_P99_MS) - 5}" text-anchor="end" fill="#666">p99 limit ${MAX_P99_MS} ms</text>`)
  out.push(`<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`)
  out.push(`<text x="${M.left + pw / 2}" y="${H - 15}" text-anchor="middle">offered load: deliveries per second (rooms × 50 clients × 20 Hz × 49 receivers)</text>`)
  out.push(`<text transform="translate(18 ${M.top + ph / 2}) rotate(-90)" text-anchor="middle">p99 write → remote receipt (log)</text>`)
  results.forEach((r, i) => {
    const color = COLORS[r.server] ?? '#000'
    const pts = r.steps.filter((s) => Number.isFinite(s.result.latency.p99))
    if (pts.length > 1) out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.map((s) => `${x(s.offered / 1000)},${y(s.result.latency.p99)}`).join(' ')}"/>`)
    for (const s of pts) {
      const cx = x(s.offered / 1000)
      const cy = y(s.result.latency.p99)
      const tip = `${s.rooms} rooms: p99 ${s.result.latency.p99.toFixed(1)} ms, delivered ${(s.result.ratio * 100).toFixed(2)}%`
      out.push(`<circle cx="${cx}" cy="${cy}" r="4.5" fill="${s.held ? color : 'white'}" stroke="${color}" stroke-width="2"><title>${esc(tip)}</title></circle>`)
    }
    const ly = M.top + 10 + i * 42
    const lx = M.left + pw + 16
    const held = r.highest ? `${(r.highest.result.deliveriesPerSec / 1000).toFixed(0)}k/s (${r.highest.rooms} rooms)` : 'none'
    out.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 22}" y2="${ly}" stroke="${color}" stroke-width="3"/>`)
    out.push(`<text x="${lx + 28}" y="${ly + 4}">${esc(SERVERS[r.server].label)}</text>`)
    out.push(`<text x="${lx + 28}" y="${ly + 20}" fill="#555">held ${esc(held)}${r.open ? '+' : ''}</text>`)
  })
  const ly = M.top + 10 + results.length * 42
  out.push(`<circle cx="${M.left + pw + 27}" cy="${ly}" r="4.5" fill="white" stroke="#333" stroke-width="2"/>`)
  out.push(`<text x="${M.left + pw + 44}" y="${ly + 4}" fill="#555">step not held</text>`)
  out.push('</svg>')
  return out.join('\n') + '\n'
}
