/**
 * How a node writes to Redis (SPEC §11), on a real redis-server: relayed input is batched
 * adaptively (a quiet relay writes at the end of the turn, a busy one at most once per
 * INPUT_BUSY_MS, every item kept in order), and the authority's committed input cursors go
 * out with its output entries.
 */
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Metrics } from '../../server/metrics.js'
import { fieldsOf, Input, itemsOf, keys } from '../../server/cluster/keys.js'
import { INPUT_BUSY_MS, InputQueue } from '../../server/cluster/relayed-room.js'
import { Outbox } from '../../server/cluster/outbox.js'
import { redisInstalled, startRedis, type RedisServer } from '../redis.js'

if (!redisInstalled()) console.warn('test/cluster/relay-writes.test.ts skipped: redis-server is not installed (apt-get install -y redis-server; .ci/run does)')

type RawEntry = [Buffer, Buffer[]]

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  const end = performance.now() + 5000
  while (!(await check())) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 5))
  }
}

describe.skipIf(!redisInstalled())('cluster: what a node writes to Redis', () => {
  let redis: RedisServer
  let client: Redis

  beforeAll(async () => {
    redis = await startRedis()
    client = new Redis(redis.url)
  })
  afterAll(async () => {
    client?.disconnect()
    await redis?.stop()
  })

  const entries = async (key: string) => ((await client.xrangeBuffer(key, '-', '+')) as unknown as RawEntry[]).map(([, f]) => fieldsOf(f))

  it('a quiet relay writes a lone message by itself; a busy one batches, keeping every item in order', async () => {
    const queue = new InputQueue(client, 'B', new Metrics(false))
    const room = 'relay-batching'
    const key = keys.input(room)
    queue.add(room, 1, Input.MESSAGE, new Uint8Array([0]))
    // Quiet: written at the end of this turn, not after a timer.
    await until(async () => (await client.xlen(key)) === 1, 'the lone message')
    const started = performance.now()
    // Busy now: 30 messages 3 ms apart, from three connections (a fixed window of a few
    // milliseconds would write each on its own).
    for (let i = 1; i <= 30; i++) {
      queue.add(room, 1 + (i % 3), Input.MESSAGE, new Uint8Array([i]))
      await new Promise((r) => setTimeout(r, 3))
    }
    const elapsed = performance.now() - started
    await until(async () => {
      const items = (await entries(key)).flatMap((f) => itemsOf(f))
      return items.length === 31
    }, 'all 31 items')
    const list = await entries(key)
    const items = list.flatMap((f) => itemsOf(f))
    expect(items.map((it) => it.data[0])).toEqual(Array.from({ length: 31 }, (_, i) => i))
    expect(items.map((it) => it.conn)).toEqual([1, ...Array.from({ length: 30 }, (_, i) => 1 + ((i + 1) % 3))])
    expect(new Set(items.map((it) => it.node))).toEqual(new Set(['B']))
    expect(itemsOf(list[0])).toHaveLength(1)
    // One write per INPUT_BUSY_MS at most while busy (and the one after the loop).
    expect(list.length).toBeLessThanOrEqual(2 + Math.ceil(elapsed / INPUT_BUSY_MS))
  })

  it('the authority writes committed cursors with its output entries, the latest per room', async () => {
    const outbox = new Outbox(client, () => 7, (err) => {
      throw err
    })
    const frame = Buffer.from([1, 2, 3])
    outbox.frame('B', 'room-1', 11, frame)
    outbox.frame('B', 'room-1', 12, frame)
    outbox.cursor('room-1', '5-0')
    outbox.cursor('room-1', '6-0')
    outbox.frame('B', 'room-2', 13, frame)
    outbox.cursor('room-2', '9-1')
    await until(async () => (await client.get(keys.cursor('room-2'))) === '9-1', 'the cursors')
    expect(await client.get(keys.cursor('room-1'))).toBe('6-0')
    const out = await entries(keys.output('B'))
    expect(out.map((f) => [f.get('r')?.toString(), f.get('c')?.toString(), f.get('e')?.toString(), f.get('s')?.toString()])).toEqual([
      ['room-1', '11,12', '7', '1'],
      ['room-2', '13', '7', '1'],
    ])
    expect(outbox.written).toBe(2)
  })
})
