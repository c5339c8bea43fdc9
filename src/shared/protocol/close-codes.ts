/**
 * WebSocket close codes the server uses, each sent with a human-readable reason.
 * 4000-4999 are application codes; 4xyy mirrors HTTP status xyy where one fits.
 */
export const CloseCode = {
  /** Server shutting down or room unloading. */
  GOING_AWAY: 1001,
  /** Malformed frame, truncated message, unknown message type. */
  PROTOCOL_ERROR: 1002,
  /** Binary data expected, text frame received. */
  UNSUPPORTED_DATA: 1003,
  /** Abuse: far over the message rate in one read, repeated refused updates, too many sync requests. */
  POLICY_VIOLATION: 1008,
  /** Message larger than maxMessageBytes (by default the document cap); resending it cannot help. */
  MESSAGE_TOO_BIG: 1009,
  /** Unexpected server error while handling this connection. */
  INTERNAL_ERROR: 1011,
  /** Too many connections (in all, or from this address): try again later. */
  TRY_AGAIN_LATER: 1013,
  /** The room name in the URL is invalid. */
  INVALID_ROOM: 4400,
  /** Authentication refused the token. */
  UNAUTHORIZED: 4401,
  /** Authentication refused the principal for this room. */
  FORBIDDEN: 4403,
  /** No pong within the heartbeat timeout. */
  HEARTBEAT_TIMEOUT: 4408,
  /** The room's document would exceed maxDocumentBytes. */
  DOCUMENT_TOO_LARGE: 4413,
  /** An update breaks a structural limit (nesting deeper than maxNestingDepth); resending it cannot help. */
  UNPROCESSABLE: 4422,
} as const
export type CloseCodeValue = (typeof CloseCode)[keyof typeof CloseCode]
