/**
 * WebSocket close codes the server uses, each sent with a human-readable reason.
 * 4000-4999 are application codes; 4xyy mirrors HTTP status xyy where one fits.
 * What each means is CLOSE_CODE_DOCS below, the one description: the close-code table in
 * docs/server.md is generated from it (test/docs-reference.ts).
 */
export const CloseCode = {
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  UNSUPPORTED_DATA: 1003,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  INTERNAL_ERROR: 1011,
  TRY_AGAIN_LATER: 1013,
  INVALID_ROOM: 4400,
  UNAUTHORIZED: 4401,
  FORBIDDEN: 4403,
  ROOM_DELETED: 4404,
  HEARTBEAT_TIMEOUT: 4408,
  KICKED: 4410,
  DOCUMENT_TOO_LARGE: 4413,
  TOKEN_EXPIRED: 4419,
  UNPROCESSABLE: 4422,
} as const
export type CloseCodeValue = (typeof CloseCode)[keyof typeof CloseCode]

/** When a code is sent (Markdown), and examples of the reasons sent with it (Markdown code spans). */
export interface CloseCodeDoc {
  when: string
  reasons: string
}

/** One entry per code, so a new code cannot go undocumented. Kept apart from CloseCode: SDK bundles drop it. */
export const CLOSE_CODE_DOCS: { readonly [K in keyof typeof CloseCode]: CloseCodeDoc } = {
  GOING_AWAY: { when: 'the server shuts down: `close()`, SIGINT, SIGTERM', reasons: '`server shutting down`' },
  PROTOCOL_ERROR: {
    when: 'malformed input: garbage, a truncated message, a bad update or state vector, an unknown message type',
    reasons: '`malformed message: …`, `malformed update: …`, `unknown message type N`, `hello sent twice`',
  },
  UNSUPPORTED_DATA: { when: 'a text frame', reasons: '`binary messages only`' },
  POLICY_VIOLATION: {
    when: 'abuse: a minute\'s worth of messages in one read, too many sync requests, 8 refused updates in a row, too much data before the connection was set up; or the same user connected again',
    reasons:
      '`message rate over the limit`, `too many sync requests`, `too many refused updates: …`, `too much data before the connection was set up`, `replaced by a newer connection of the same user`',
  },
  MESSAGE_TOO_BIG: { when: 'a message over `maxMessageBytes`; the SDK does not reconnect', reasons: '`message of N bytes over the limit of M`' },
  INTERNAL_ERROR: {
    when: 'a server error, logged; see [the safety net](security.md#the-safety-net) and [damaged storage](security.md#damaged-storage)',
    reasons:
      '`room could not be opened`, `connection setup failed`, `authentication failed`, `internal error`, `judging this update failed; it was undone`, `room reloads after an internal error`, `stored state of this room is damaged: …`',
  },
  TRY_AGAIN_LATER: {
    when: 'over a [connection limit](#connections), the JWKS could not be fetched, or the room is served elsewhere: its lease passed to another server ([leases](storage.md#leases-and-epochs), [cluster mode](scaling-out.md)); try again later',
    reasons:
      '`too many connections from this address`, `server at its connection limit`, `room moved to another server; reconnect`, `room is served by another server; try again`, `token keys (JWKS) unavailable; try again`',
  },
  INVALID_ROOM: {
    when: 'an invalid room name in the URL',
    reasons: '`room name is empty`, `room name longer than 512 characters`, `room name contains control characters`, `room name is not valid URL encoding`',
  },
  UNAUTHORIZED: {
    when: '`authenticate` or the [JWT check](#jwt) refused the connection (unauthorized), or a [refreshed token](#token-expiry-and-refresh) was refused or names another principal; the SDK does not reconnect',
    reasons: "the hook's message, else `unauthorized`; `token expired`, `token signature is invalid`, `token required`, `token refresh refused: …`",
  },
  FORBIDDEN: {
    when: '`authenticate`, the JWT check (room not in the token\'s `rooms`) or a plugin\'s `onConnect` refused the connection (forbidden); the SDK does not reconnect',
    reasons: "the hook's or plugin's message; `token does not allow room NAME`",
  },
  KICKED: {
    when: '`server.kick(principalId)` closed the principal\'s connections; the SDK does not reconnect',
    reasons: 'the reason passed to `kick`, else `kicked`',
  },
  TOKEN_EXPIRED: {
    when: 'the connection\'s token expired and no valid new one arrived within `tokenRefreshGraceMs` of the refresh request (a stock client gets no request: it is closed at expiry); the SDK reconnects, asking its token function for a new token',
    reasons: '`token expired`, `token expired; no new token within N ms`',
  },
  ROOM_DELETED: {
    when: 'the room was deleted ([HTTP API](#http-api): `DELETE /api/v1/rooms/{room}`); the SDK does not reconnect (a stock client does, and its local state recreates the room)',
    reasons: '`room deleted`',
  },
  HEARTBEAT_TIMEOUT: {
    when: '**never sent**: a connection silent for a heartbeat interval is dropped without a closing handshake (a dead peer could not answer one), so the client sees 1006. The code stays reserved',
    reasons: '—',
  },
  DOCUMENT_TOO_LARGE: { when: 'the document would pass `maxDocumentBytes`', reasons: '`document would exceed N bytes`' },
  UNPROCESSABLE: {
    when: 'an update past a structural limit (nesting deeper than `maxNestingDepth`) or holding content the server does not serve; resending cannot help, the SDK stops reconnecting',
    reasons: '`update nests shared types N deep, over the limit of M`, `subdocuments are not supported`',
  },
}

/** Not a code the server sends: what a client sees when the server drops its connection. */
export const DROPPED_CLOSE_DOC: CloseCodeDoc & { code: 1006 } = {
  code: 1006,
  when: 'the server dropped the connection without a closing handshake: heartbeat timeout or slow consumer',
  reasons: '(none, set by the client)',
}
