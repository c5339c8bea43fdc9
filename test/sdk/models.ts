/** Model types shared by the SDK tests. */
import { defineModel, prop } from '../../src/index.js'

export const Vec3 = defineModel('Vec3', {
  x: prop.number(0),
  y: prop.number(0),
  z: prop.number(0),
})

export const Item = defineModel('Item', {
  label: prop.string(''),
  count: prop.number(1),
})

export const Player = defineModel('Player', {
  name: prop.string('anonymous'),
  score: prop.number(0),
  ready: prop.boolean(false),
  avatar: prop.binary(),
  tags: prop.json<string[]>([]),
  bio: prop.text(),
  position: prop.model(Vec3),
  items: prop.set(Item),
})

export const Leaf = defineModel('Leaf', { value: prop.number(0) })
export const Mid = defineModel('Mid', { label: prop.string(''), leaf: prop.model(Leaf) })
export const Tree = defineModel('Tree', { title: prop.string(''), mid: prop.model(Mid) })

export const Game = defineModel('Game', {
  title: prop.string('untitled'),
  round: prop.number(0),
  notes: prop.text(),
  players: prop.set(Player),
  slots: prop.dictionary(Item),
  log: prop.array(Item),
  names: prop.stringKeyDictionary(Item),
  tree: prop.model(Tree),
})
