/** The SDK examples stay runnable: each one runs against its own in-process server. */
import { describe, expect, it } from 'vitest'

describe('sdk examples', () => {
  it('models', async () => {
    const log = await (await import('../../examples/sdk/models.js')).main()
    expect(log).toContain('bob sees title "untitled" -> "Sprint planning" (remote)')
    expect(log).toContain('bob reads: Sprint planning, rgb(255, 200, 0), notes "Agenda: "')
  })

  it('collections', async () => {
    const log = await (await import('../../examples/sdk/collections.js')).main()
    expect(log).toContain('dictionary: 0 replaced background by grid')
    expect(log).toContain('set: removed square (remote)')
    expect(log).toContain('a reads chat: hello / anyone here? / hi!')
  })

  it('string-key-dictionary', async () => {
    const log = await (await import('../../examples/sdk/string-key-dictionary.js')).main()
    expect(['ann: true, ben: false', 'ann: false, ben: true']).toContain(log[0])
    expect(log).toContain('seats now: A2')
  })

  it('ownership', async () => {
    const log = await (await import('../../examples/sdk/ownership.js')).main()
    expect(log).toContain('other.requestOwnership() -> false')
    expect(log).toContain('other sees owner me -> -1 (remote)')
    expect(log).toContain('me: their hand was removed (remote)')
  })

  it('rollback', async () => {
    const log = await (await import('../../examples/sdk/rollback.js')).main()
    expect(log[0]).toBe('intruder: open = true (local)')
    expect(log).toContain('intruder: open = false (rollback)')
    expect(log.some((l) => l.includes(': owned-by-another'))).toBe(true)
  })

  it('frame-batching', async () => {
    const log = await (await import('../../examples/sdk/frame-batching.js')).main()
    expect(log).toContain('... went out in 1 frame(s)')
    expect(log).toContain('after flush(): 2 frame(s)')
  })

  it('actions', async () => {
    const log = await (await import('../../examples/sdk/actions.js')).main()
    expect(log).toContain('counter: 20 after 2 × 10 concurrent increments')
    expect(log.some((l) => /^bob: direct write to instances\/.+\/value rejected: action-only$/.test(l))).toBe(true)
    expect(log).toContain('bob reads counter = 20 again')
    expect(log).toContain('withdraw 30 -> {"balance":70}')
    expect(log).toContain('withdraw refused: insufficient-funds')
    expect(log).toContain('deposit refused: invalid-data')
    expect(log).toContain('lottery refused: strict-mode')
    expect(log).toContain('backend deposit 50 -> {"balance":120}')
    expect(log.at(-1)).toMatch(/the last balance 120$/)
  })

  it('offline', async () => {
    const log = await (await import('../../examples/sdk/offline.js')).main()
    expect(log).toContain('offline, phone sees 1 todo(s)')
    expect(log).toContain('merged: phone [buy milk, call mom], laptop [buy milk, call mom]')
  })
})
