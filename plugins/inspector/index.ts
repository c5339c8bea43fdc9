/**
 * The room inspector (docs/inspector.md): a page at `/inspect/` that lists the rooms and
 * shows one live (model tree with owners and flags, clients, rejections and actions, a
 * timeline), fed by Server-Sent Events. Read-only: its routes answer GET only and nothing a
 * page sends reaches a room. Free while no page is open: every hook below returns at once
 * for a room nobody watches.
 *
 * Register it after the other plugins: it hears of actions through the room's events
 * service, which it wraps in its onLoad.
 */
import type { EventsService, RoomHandle, YroomPlugin, HttpRouteContext } from '../../server/plugin.js'
import { roomNameError } from '../../src/shared/layout.js'
import { ownerAt } from './owner-at.js'
import { accessStatus, type AccessOptions } from './access.js'
import { passThroughRemote } from './remote.js'
import { EventStream, type InspectorCounters } from './sse.js'
import { RoomWatch, type WatchEnv } from './room-watch.js'
import { RoomList } from './room-list.js'
import { defaultPageDir, servePageFile } from './page.js'

export interface InspectorOptions extends AccessOptions {
  /** Where the built page is (default examples/inspector/dist). */
  pageDir?: string
}

export interface InspectorPlugin extends YroomPlugin {
  /** What inspectors cost so far (tests). */
  readonly counters: Readonly<InspectorCounters>
  /** Rooms some page watches now. */
  watched(): string[]
}

export const INSPECT_PATH = '/inspect'

export function inspectorPlugin(options: InspectorOptions = {}): InspectorPlugin {
  const counters: InspectorCounters = { encodedEvents: 0, timers: 0 }
  const watches = new Map<string, RoomWatch>()
  let env: WatchEnv | null = null
  let list: RoomList | null = null
  const pageDir = options.pageDir ?? defaultPageDir()

  const watchOf = (name: string): RoomWatch | undefined => watches.get(name)

  function openRoom(ctx: HttpRouteContext, name: string): void {
    let watch = watches.get(name)
    if (!watch) watches.set(name, (watch = new RoomWatch(name, env!)))
    const w = watch
    const stream = new EventStream(ctx.response, counters, () => {
      if (w.remove(stream) && watches.get(name) === w) watches.delete(name)
    })
    w.add(stream)
  }

  function openList(ctx: HttpRouteContext): void {
    list ??= new RoomList(env!)
    const l = list
    const stream = new EventStream(ctx.response, counters, () => l.remove(stream))
    l.add(stream)
  }

  function onEvent(room: RoomHandle, type: string, data: Record<string, unknown>): void {
    const watch = watchOf(room.name)
    if (!watch || !type.startsWith('action.')) return
    watch.addLog({
      t: Date.now(),
      kind: 'action',
      action: String(data.action),
      path: data.path ?? null,
      principal: typeof data.principal === 'string' ? data.principal : null,
      result: type === 'action.applied' ? 'applied' : String(data.reason ?? 'refused'),
      ...(typeof data.message === 'string' ? { message: data.message } : {}),
    })
  }

  /** Wrappers of a room's events service this plugin installed. */
  const wrappers = new WeakSet<EventsService>()
  /**
   * Actions are reported to the room's events service: hear them too, passing them on. A
   * plugin registered later may set its own service in its onLoad (the webhooks plugin does):
   * it is wrapped again at the next hello.
   */
  function hearEvents(room: RoomHandle): void {
    const services = room.services
    const next = services.events
    if (next && wrappers.has(next)) return
    const wrapper: EventsService = {
      emit(type, data) {
        next?.emit(type, data)
        onEvent(room, type, data)
      },
    }
    wrappers.add(wrapper)
    services.events = wrapper
  }

  return {
    name: 'inspector',
    counters,
    watched: () => [...watches.keys()],

    onLoad(room) {
      hearEvents(room)
      watchOf(room.name)?.follow()
    },

    onHello({ room, connection, clientID }) {
      hearEvents(room)
      watchOf(room.name)?.addLog({ t: Date.now(), kind: 'join', principal: connection.principal.id, clientID, conn: connection.id })
    },

    beforeUpdate({ room, connection, update }) {
      if (list?.active) list.noteUpdate(room.name)
      watchOf(room.name)?.noteUpdate(connection, update.byteLength)
    },

    afterApply(ctx) {
      if (ctx.rejected === 0) return
      const watch = watchOf(ctx.room.name)
      if (!watch) return
      const { connection } = ctx
      watch.noteRejected(connection, ctx.rejected)
      const t = Date.now()
      for (const r of ctx.rejections) {
        // Whose the content is (after the rollback: as the rules saw it).
        const owner = ownerAt(ctx.room.doc, r.path)
        watch.addLog({ t, kind: 'rejection', path: r.path, reason: r.reason, message: r.message, principal: connection.principal.id, clientID: connection.announcedClientID, conn: connection.id, owner })
      }
    },

    onDisconnect({ room, connection }) {
      const watch = watchOf(room.name)
      if (!watch) return
      watch.forget(connection)
      watch.addLog({ t: Date.now(), kind: 'leave', principal: connection.principal.id, clientID: connection.announcedClientID, conn: connection.id })
    },

    onUnload(room) {
      // Followed again at the watch's next tick: then read from storage.
      queueMicrotask(() => watchOf(room.name)?.follow())
    },

    async http(ctx) {
      const { url, request, response } = ctx
      if (url.pathname !== INSPECT_PATH && !url.pathname.startsWith(`${INSPECT_PATH}/`)) return false
      const access = accessStatus(options, request, url)
      if (access === 404) return false
      const head = request.method === 'HEAD'
      if (request.method !== 'GET' && !head) {
        // Read-only: nothing but GET is ever answered here.
        response.writeHead(405, { allow: 'GET, HEAD' }).end()
        return true
      }
      const rest = url.pathname.slice(INSPECT_PATH.length)
      // The page's code and style are public (they hold no data); the page and its streams are not.
      if (rest.startsWith('/') && rest !== '/' && !rest.startsWith('/events/')) return servePageFile(pageDir, rest.slice(1), response, head)
      if (access === 401) {
        response.writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': 'Bearer realm="yroom inspector"' }).end('yroom inspector: give the API key (Authorization: Bearer KEY, or ?key=KEY)\n')
        return true
      }
      if (rest === '') {
        response.writeHead(301, { location: `${INSPECT_PATH}/${url.search}` }).end()
        return true
      }
      if (rest === '/') return servePageFile(pageDir, 'index.html', response, head)
      env ??= { rooms: ctx.rooms, storage: ctx.storage, node: ctx.node, counters }
      if (head) {
        response.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' }).end()
        return true
      }
      if (rest === '/events/rooms') {
        openList(ctx)
        return true
      }
      const name = url.searchParams.get('name')
      if (rest === '/events/room' && name !== null && roomNameError(name)) {
        response.writeHead(400, { 'content-type': 'text/plain' }).end(`yroom inspector: ${roomNameError(name)}\n`)
        return true
      }
      if (rest === '/events/room' && name) {
        // Cluster mode: live on the node that serves the room; here, its stored state.
        if (!(await passThroughRemote(ctx, name))) openRoom(ctx, name)
        return true
      }
      response.writeHead(404, { 'content-type': 'text/plain' }).end('yroom inspector: no such route\n')
      return true
    },
  }
}
