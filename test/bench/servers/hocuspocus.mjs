// Hocuspocus with its default configuration (no extensions, no persistence), on loopback.
// Prints the bound port for the harness.
import { Server } from '@hocuspocus/server'

const server = new Server({ port: 0, address: '127.0.0.1', quiet: true })
await server.listen()
console.log(`hocuspocus listening on port ${server.address.port}`)
