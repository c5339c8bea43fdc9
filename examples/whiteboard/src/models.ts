/**
 * The whiteboard's datastore schema.
 *
 * - Shapes (strokes, rectangles, ellipses) live in `root.shapes`, unowned and persistent
 *   (`destroyWhenOwnerOrLastClientLeaves: false`): they outlive every tab and a server
 *   restart. Locking a shape = owning it with `preventOwnershipTakeover`.
 * - Each tab instantiates one Peer in `root.peers`, owned by it and destroyed by the server
 *   when the tab leaves: it is both the live cursor and the presence-list entry.
 */
import { defineModel, prop, type InstanceOf } from '../../../src/index.js'

export type ShapeKind = 'stroke' | 'rect' | 'ellipse'

export const Shape = defineModel('WhiteboardShape', {
  kind: prop.string('stroke'),
  /** Origin: a stroke's points and a box's size are relative to it, so a move writes two numbers. */
  x: prop.number(0),
  y: prop.number(0),
  /** Box size (rect / ellipse). */
  w: prop.number(0),
  h: prop.number(0),
  /** Stroke points, flat [x0, y0, x1, y1, ...], relative to (x, y). Replaced as a whole. */
  points: prop.json<number[]>([]),
  color: prop.string('#1f2937'),
  width: prop.number(4),
  /** Stacking order: creation time. Map key order differs between replicas, this does not. */
  z: prop.number(0),
})
export type Shape = InstanceOf<typeof Shape>

export const Peer = defineModel('WhiteboardPeer', {
  name: prop.string(''),
  color: prop.string('#64748b'),
  /** Cursor position on the board; negative = the pointer is not over the board. */
  x: prop.number(-1),
  y: prop.number(-1),
})
export type Peer = InstanceOf<typeof Peer>

export const Board = defineModel('WhiteboardBoard', {
  shapes: prop.set(Shape),
  peers: prop.set(Peer),
})
export type Board = InstanceOf<typeof Board>
