/**
 * Calls `fn` at `hz` on a fixed schedule: call k is due at start + offset + k periods.
 *
 * setInterval alone counts each period from when its callback ran, so every late callback
 * (the generator's own event-loop lag, several percent near a server's capacity) lowers
 * the offered rate for good: the load a step claims to offer would not be the load sent.
 * Here a late callback makes every call that fell due meanwhile.
 *
 * Returns a function that stops the schedule.
 */
export function fixedRate(hz: number, offsetMs: number, fn: () => void): () => void {
  const period = 1000 / hz
  const first = performance.now() + offsetMs
  let made = 0
  let interval: NodeJS.Timeout | null = null
  const callDue = () => {
    const due = Math.floor((performance.now() - first) / period) + 1
    while (made < due) {
      made++
      fn()
    }
  }
  const start = setTimeout(() => {
    callDue()
    interval = setInterval(callDue, period)
  }, offsetMs)
  return () => {
    clearTimeout(start)
    if (interval) clearInterval(interval)
  }
}
