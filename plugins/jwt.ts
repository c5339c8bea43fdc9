/**
 * `import { jwtAuthenticator } from 'yroom/plugins/jwt'`: the JWT check that `jwtSecret`,
 * `jwtPublicKey` and `jwksUrl` enable, as a hook of its own, for an `authenticate` hook that
 * does more than check a JWT (docs/server.md#jwt).
 */
export { jwtAuthenticator, roomAllowed, type JwtOptions, type YroomClaims } from '../server/transport/jwt.js'
