/** docs/openapi.json describes exactly the routes the API serves (server/http/routes.ts). */
import { describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { API_PREFIX, ROUTES } from '../../server/http/routes.js'

const FILE = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'docs', 'openapi.json')
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options']

interface Spec {
  openapi: string
  paths: Record<string, Record<string, { operationId?: string; responses?: Record<string, unknown> } | unknown>>
  components: { securitySchemes: Record<string, { type: string; scheme: string }> }
}

describe('docs/openapi.json', () => {
  const spec = JSON.parse(readFileSync(FILE, 'utf8')) as Spec

  it('parses as OpenAPI 3.1 with bearer auth', () => {
    expect(spec.openapi).toMatch(/^3\.1\./)
    expect(spec.components.securitySchemes.apiKey).toMatchObject({ type: 'http', scheme: 'bearer' })
  })

  it('lists every route the server registers, and no other', () => {
    const served = ROUTES.map((r) => `${r.method} ${API_PREFIX}${r.path}`).sort()
    const documented = Object.entries(spec.paths)
      .flatMap(([path, ops]) => Object.keys(ops).filter((m) => METHODS.includes(m)).map((m) => `${m.toUpperCase()} ${path}`))
      .sort()
    expect(documented).toEqual(served)
  })

  it('gives each operation an id, a success answer and the auth failure', () => {
    for (const [path, ops] of Object.entries(spec.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        if (!METHODS.includes(method)) continue
        const o = op as { operationId?: string; responses: Record<string, unknown> }
        expect(o.operationId, `${method} ${path}`).toBeTruthy()
        expect(Object.keys(o.responses), `${method} ${path}`).toEqual(expect.arrayContaining(['200', '401']))
      }
    }
  })

  it('names each path parameter the route uses', () => {
    for (const r of ROUTES) {
      const names = [...r.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1])
      const params = (spec.paths[`${API_PREFIX}${r.path}`].parameters ?? []) as Array<{ $ref: string }>
      for (const n of names) expect(params.map((p) => p.$ref), r.path).toContain(`#/components/parameters/${n}`)
    }
  })
})
