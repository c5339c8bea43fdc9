/**
 * Top-level message types of the y-websocket wire protocol (SPEC §7), plus yroom's
 * extension type. Every message is `varUint(type)` followed by its payload.
 */
export const MESSAGE_SYNC = 0
export const MESSAGE_AWARENESS = 1
export const MESSAGE_AUTH = 2
export const MESSAGE_QUERY_AWARENESS = 3
/**
 * yroom extension messages. Sent by the server only to connections that sent a hello
 * first, so stock y-websocket clients (which log unknown types) never receive one.
 */
export const MESSAGE_YROOM = 7

/** Sub-type of MESSAGE_AUTH: the server refused a write (y-protocols/auth). */
export const AUTH_PERMISSION_DENIED = 0
