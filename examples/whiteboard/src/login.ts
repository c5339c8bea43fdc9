/**
 * Tokens for a server started with `--jwt-secret`: the server-side demo login
 * (examples/whiteboard/login.ts) signs one for a name. Without a secret the route does not
 * exist (404) and the whiteboard connects anonymously, as before.
 */
export const LOGIN_PATH = '/login'

interface LoginAnswer {
  token: string
  expiresAt: number
}

async function fetchToken(name: string): Promise<LoginAnswer | null> {
  const res = await fetch(`${LOGIN_PATH}?name=${encodeURIComponent(name)}`, { cache: 'no-store' })
  if (res.status === 404) return null
  if (!res.ok) throw new Error(`login failed: HTTP ${res.status}`)
  return (await res.json()) as LoginAnswer
}

/**
 * The SDK's token function for `name`, or undefined when the server takes anonymous clients.
 * The first token serves the first connect; every later (re)connect and every refresh
 * request (a token about to expire) logs in again.
 */
export async function login(name: string): Promise<(() => Promise<string>) | undefined> {
  const first = await fetchToken(name)
  if (first === null) return undefined
  let unused: string | null = first.token
  return async () => {
    if (unused !== null) {
      const token = unused
      unused = null
      return token
    }
    const next = await fetchToken(name)
    if (next === null) throw new Error('the server no longer offers a login')
    return next.token
  }
}
