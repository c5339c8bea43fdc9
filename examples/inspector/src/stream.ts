/**
 * The page's only channel to the server: an EventSource (Server-Sent Events) on
 * /inspect/events/…. It only receives; the page has no way to write to a room.
 */

/** The API key the page was opened with (`?key=`), passed on to its streams. */
export const key = new URLSearchParams(location.search).get('key')

export function subscribe(path: string, params: Record<string, string>, handlers: Record<string, (data: never) => void>, status: (open: boolean) => void): EventSource {
  const q = new URLSearchParams(params)
  if (key) q.set('key', key)
  const source = new EventSource(`events/${path}?${q}`)
  source.onopen = () => status(true)
  source.onerror = () => status(false) // EventSource reconnects by itself
  for (const [event, handle] of Object.entries(handlers)) {
    source.addEventListener(event, (e) => handle(JSON.parse((e as MessageEvent<string>).data) as never))
  }
  return source
}

/** A link to another page of the inspector, keeping the key. */
export function href(params: Record<string, string>): string {
  const q = new URLSearchParams(params)
  if (key) q.set('key', key)
  const s = q.toString()
  return s ? `./?${s}` : './'
}
