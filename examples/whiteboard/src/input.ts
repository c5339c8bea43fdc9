/**
 * Pointer input on the board: drawing strokes and boxes, moving shapes, and this tab's
 * cursor. Every gesture writes to the models; the SDK sends the writes in 50 ms frames.
 */
import { shapeByKey, type App } from './app.js'
import type { InitOf } from '../../../src/index.js'
import { Shape } from './models.js'
import { setTool } from './commands.js'

type Gesture =
  | { kind: 'draw'; shape: Shape; points: number[]; timer: ReturnType<typeof setTimeout> | null }
  | { kind: 'box'; shape: Shape }
  | { kind: 'move'; shape: Shape; grabX: number; grabY: number }

/** Stroke points are written at most this often while drawing (the frame rate), and at the end. */
const POINTS_WRITE_MS = 50

export function attachInput(app: App, svg: SVGSVGElement): void {
  let gesture: Gesture | null = null
  const at = (e: PointerEvent) => {
    const r = svg.getBoundingClientRect()
    return { x: Math.round(e.clientX - r.left), y: Math.round(e.clientY - r.top) }
  }

  svg.addEventListener('pointerdown', (e) => {
    if (e.button !== 0 || !app.me) return
    const p = at(e)
    svg.setPointerCapture(e.pointerId)
    app.undo?.stopCapturing() // one gesture = one undo step
    gesture = start(app, e.target, p)
    app.render()
  })

  svg.addEventListener('pointermove', (e) => {
    const p = at(e)
    moveCursor(app, p.x, p.y)
    if (gesture) update(app, gesture, p)
  })

  const end = () => {
    if (!gesture) return
    finish(app, gesture)
    gesture = null
    app.undo?.stopCapturing()
    app.render()
  }
  svg.addEventListener('pointerup', end)
  svg.addEventListener('pointercancel', end)
  svg.addEventListener('pointerleave', () => moveCursor(app, -1, -1))
}

function moveCursor(app: App, x: number, y: number): void {
  const me = app.me
  if (!me || me.isDeleted) return
  app.room.datastore.transact(() => {
    me.x = x
    me.y = y
  })
}

function keyOfTarget(target: EventTarget | null): string | null {
  const el = target instanceof Element ? target.closest('[data-key]') : null
  return el?.getAttribute('data-key') ?? null
}

function create(app: App, init: InitOf<typeof Shape>): Shape {
  // Unowned and persistent: anyone may edit it until someone locks it, and it outlives us.
  return app.room.datastore.instantiate(Shape, {
    in: app.board.shapes,
    ownedByClient: false,
    destroyWhenOwnerOrLastClientLeaves: false,
    init: { ...init, z: Date.now() },
  })
}

function start(app: App, target: EventTarget | null, p: { x: number; y: number }): Gesture | null {
  switch (app.tool) {
    case 'select': {
      app.selected = keyOfTarget(target)
      const shape = shapeByKey(app, app.selected)
      return shape ? { kind: 'move', shape, grabX: p.x - shape.x, grabY: p.y - shape.y } : null
    }
    case 'pen': {
      const shape = create(app, { kind: 'stroke', x: p.x, y: p.y, points: [0, 0], color: app.color, width: 4 })
      const key = app.board.shapes.keyOf(shape)
      const points = [0, 0]
      if (key !== null) app.draft = { key, points }
      return { kind: 'draw', shape, points, timer: null }
    }
    case 'rect':
    case 'ellipse':
      return { kind: 'box', shape: create(app, { kind: app.tool, x: p.x, y: p.y, w: 0, h: 0, color: app.color }) }
  }
}

function update(app: App, g: Gesture, p: { x: number; y: number }): void {
  const ds = app.room.datastore
  if (g.kind === 'move') {
    ds.transact(() => {
      g.shape.x = p.x - g.grabX
      g.shape.y = p.y - g.grabY
    })
  } else if (g.kind === 'box') {
    ds.transact(() => {
      g.shape.w = p.x - g.shape.x
      g.shape.h = p.y - g.shape.y
    })
  } else {
    const x = p.x - g.shape.x
    const y = p.y - g.shape.y
    const n = g.points.length
    if (Math.hypot(x - g.points[n - 2], y - g.points[n - 1]) < 2) return
    g.points.push(x, y)
    g.timer ??= setTimeout(() => {
      g.timer = null
      g.shape.points = g.points.slice()
    }, POINTS_WRITE_MS)
    app.render()
  }
}

function finish(app: App, g: Gesture): void {
  if (g.kind === 'draw') {
    if (g.timer) clearTimeout(g.timer)
    g.shape.points = g.points.slice()
    app.draft = null
  } else if (g.kind === 'box') {
    const s = g.shape
    app.room.datastore.transact(() => {
      if (Math.abs(s.w) < 4 && Math.abs(s.h) < 4) {
        // A click without a drag: a default-sized shape centred on the click.
        s.x -= 60
        s.y -= 40
        s.w = 120
        s.h = 80
      } else {
        if (s.w < 0) [s.x, s.w] = [s.x + s.w, -s.w]
        if (s.h < 0) [s.y, s.h] = [s.y + s.h, -s.h]
      }
    })
    setTool(app, 'select') // so the new shape can be moved and locked right away
    app.selected = app.board.shapes.keyOf(s)
  }
}
