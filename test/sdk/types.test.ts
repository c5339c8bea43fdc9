/** Compile-time checks of the inferred model types (tsc fails on a wrong inference; vitest runs the assertions). */
import { describe, expectTypeOf, it } from 'vitest'
import type * as Y from 'yjs'
import type { InstanceOf, RealtimeArray, RealtimeDictionary, RealtimeSet, StringKeyDictionary } from '../../src/index.js'
import { Game, Item, Player, Vec3 } from './models.js'

type P = InstanceOf<typeof Player>
type G = InstanceOf<typeof Game>

describe('sdk: inferred types', () => {
  it('properties have the schema types', () => {
    expectTypeOf<P['name']>().toEqualTypeOf<string>()
    expectTypeOf<P['score']>().toEqualTypeOf<number>()
    expectTypeOf<P['ready']>().toEqualTypeOf<boolean>()
    expectTypeOf<P['avatar']>().toEqualTypeOf<Uint8Array | null>()
    expectTypeOf<P['tags']>().toEqualTypeOf<string[]>()
    expectTypeOf<P['bio']>().toEqualTypeOf<Y.Text>()
    expectTypeOf<P['position']>().toEqualTypeOf<InstanceOf<typeof Vec3>>()
    expectTypeOf<G['players']>().toEqualTypeOf<RealtimeSet<typeof Player>>()
    expectTypeOf<G['slots']>().toEqualTypeOf<RealtimeDictionary<typeof Item>>()
    expectTypeOf<G['log']>().toEqualTypeOf<RealtimeArray<typeof Item>>()
    expectTypeOf<G['names']>().toEqualTypeOf<StringKeyDictionary<typeof Item>>()
  })

  it('value properties are writable, shared types are not; init values are checked', () => {
    const check = (p: P, g: G) => {
      p.score = 1
      // @ts-expect-error a number property takes numbers
      p.score = 'one'
      // @ts-expect-error child models are read-only references
      p.position = p.position
      // @ts-expect-error unknown property in init
      g.players.add({ nope: 1 })
      g.players.add({ name: 'x', position: { x: 1 } })
      p.on('scoreDidChange', (e) => expectTypeOf(e.value).toEqualTypeOf<number>())
      // @ts-expect-error no such property event
      p.on('nopeDidChange', () => {})
    }
    expectTypeOf(check).toBeFunction()
  })
})
