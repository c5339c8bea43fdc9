/** CPU-profiles one async section of the current process (node:inspector), written as a .cpuprofile. */
import { Session } from 'node:inspector/promises'
import { writeFileSync } from 'node:fs'

export async function profiled<T>(file: string, fn: () => Promise<T>): Promise<T> {
  const session = new Session()
  session.connect()
  await session.post('Profiler.enable')
  await session.post('Profiler.setSamplingInterval', { interval: 200 })
  await session.post('Profiler.start')
  try {
    return await fn()
  } finally {
    const { profile } = await session.post('Profiler.stop')
    writeFileSync(file, JSON.stringify(profile))
    session.disconnect()
  }
}
