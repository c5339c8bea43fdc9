/** SDK test helpers: a real server with the default plugins, and SDK rooms that clean up after themselves. */
import { afterEach } from 'vitest'
import { startServer, type TestServer } from '../helpers.js'
import { defaultPlugins } from '../../plugins/index.js'
import { connect, type ConnectOptions, type ModelType, type Room } from '../../src/index.js'
import type { ServerOptions } from '../../server/index.js'

const cleanups: Array<() => unknown> = []

afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!()
})

export async function sdkServer(options: ServerOptions = {}): Promise<TestServer> {
  const s = await startServer({ plugins: defaultPlugins(), ...options })
  cleanups.push(() => s.close())
  return s
}

let roomCounter = 0
export function roomName(prefix = 'sdk'): string {
  return `${prefix}-${process.pid}-${++roomCounter}`
}

/** A connected, synced SDK room, destroyed after the test. */
export async function join<R extends ModelType>(
  url: string,
  room: string,
  options: Partial<ConnectOptions<R>> = {},
): Promise<Room<R>> {
  const r = connect<R>({ url, room, reconnect: { minDelayMs: 20, maxDelayMs: 200 }, ...options })
  cleanups.push(() => r.destroy())
  if (options.connect !== false) await r.whenSynced()
  return r
}
