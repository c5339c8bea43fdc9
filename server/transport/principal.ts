/** Who a connection acts for: what the `authenticate` hook returns (plugin.ts). */
export interface Principal {
  /** Stable id of the user; anonymous principals get a per-connection id. */
  id: string
  /** True when no authenticate hook vouched for this principal. */
  anonymous: boolean
  /** Read-only connections have every change rejected (and rolled back). */
  readOnly?: boolean
  /**
   * When the credentials expire (ms since the epoch): the connection is then asked for a new
   * token and closed (4419) without one. The JWT check sets it from `exp`; a hook may too.
   */
  expiresAt?: number
  /** Anything the application wants to carry along. */
  data?: unknown
}

/** The server's own principal: authors compensations, lifetime deletions, backend edits. */
export const SERVER_PRINCIPAL: Principal = Object.freeze({ id: '$server', anonymous: false })

