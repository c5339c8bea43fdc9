import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { createModel, meta, model, trio, type Trio } from './trio.js'

let t: Trio
afterEach(async () => {
  await t?.close()
})

describe('authority rules (SPEC §4), three replicas', () => {
  it('owner edits its own model: accepted everywhere', async () => {
    t = await trio()
    createModel(t.owner.doc, 'a', { x: 1 })
    await t.converge()
    model(t.owner.doc, 'a').set('x', 2)
    await t.converge()
    expect(model(t.observer.doc, 'a').get('x')).toBe(2)
    expect(model(t.offender.doc, 'a').get('x')).toBe(2)
  })

  it('non-owner property write is rolled back; the observer never sees it', async () => {
    t = await trio()
    createModel(t.owner.doc, 'a', { x: 1 })
    await t.converge()
    model(t.offender.doc, 'a').set('x', 666)
    expect(model(t.offender.doc, 'a').get('x')).toBe(666)
    await t.converge()
    for (const c of [t.owner, t.offender, t.observer]) expect(model(c.doc, 'a').get('x')).toBe(1)
    expect(t.seen.some((s) => s.includes('666'))).toBe(false)
  })
})
