/** The page around the board: banner, toolbar, presence list, notices. Plain DOM. */
import type { StatusEvent } from '../../../src/index.js'
import { shapeByKey, type App, type Tool } from './app.js'
import { deleteSelected, redo, setTool, toggleLock, undo } from './commands.js'
import { PALETTE } from './identity.js'

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T

export function bindToolbar(app: App): void {
  for (const button of Array.from(document.querySelectorAll<HTMLButtonElement>('button[data-tool]'))) {
    button.addEventListener('click', () => setTool(app, button.dataset.tool as Tool))
  }
  const swatches = $('swatches')
  for (const color of PALETTE.concat('#1f2937')) {
    const b = document.createElement('button')
    b.className = 'swatch'
    b.style.background = color
    b.dataset.color = color
    b.title = color
    b.addEventListener('click', () => {
      app.color = color
      app.render()
    })
    swatches.append(b)
  }
  $('undo').addEventListener('click', () => undo(app))
  $('redo').addEventListener('click', () => redo(app))
  $('lock').addEventListener('click', () => toggleLock(app))
  $('delete').addEventListener('click', () => deleteSelected(app))
}

export function bindKeys(app: App): void {
  const tools: Record<string, Tool> = { v: 'select', p: 'pen', r: 'rect', e: 'ellipse' }
  window.addEventListener('keydown', (e) => {
    if (e.target instanceof HTMLInputElement) return
    const k = e.key.toLowerCase()
    const mod = e.ctrlKey || e.metaKey
    if (mod && k === 'z') undoOrRedo(app, e.shiftKey)
    else if (mod && k === 'y') redo(app)
    else if (mod) return
    else if (k === 'delete' || k === 'backspace') deleteSelected(app)
    else if (k === 'l') toggleLock(app)
    else if (k === 'escape') deselect(app)
    else if (tools[k]) setTool(app, tools[k])
    else return
    e.preventDefault()
  })
}

function deselect(app: App): void {
  app.selected = null
  app.render()
}

function undoOrRedo(app: App, shift: boolean): void {
  if (shift) redo(app)
  else undo(app)
}

/** Refreshes everything outside the board from the current state. */
export function renderChrome(app: App): void {
  for (const b of Array.from(document.querySelectorAll<HTMLButtonElement>('button[data-tool]'))) b.classList.toggle('active', b.dataset.tool === app.tool)
  for (const b of Array.from(document.querySelectorAll<HTMLButtonElement>('[data-color]'))) b.classList.toggle('active', b.dataset.color === app.color)
  document.body.dataset.activeTool = app.tool
  const shape = shapeByKey(app, app.selected)
  const lock = $<HTMLButtonElement>('lock')
  lock.disabled = !shape
  lock.textContent = shape?.isOwnedLocallySelf ? 'Unlock' : shape?.isOwnedRemotelySelf ? 'Locked' : 'Lock'
  $<HTMLButtonElement>('delete').disabled = !shape
  $<HTMLButtonElement>('undo').disabled = !app.undo?.canUndo()
  $<HTMLButtonElement>('redo').disabled = !app.undo?.canRedo()
  renderPeople(app)
}

function renderPeople(app: App): void {
  const list = $('people-list')
  const peers = [...app.board.peers].filter((p) => p.ownerIDSelf > 0)
  peers.sort((a, b) => (a.ownerIDSelf === app.room.clientID ? -1 : b.ownerIDSelf === app.room.clientID ? 1 : a.name.localeCompare(b.name)))
  $('people-count').textContent = String(peers.length)
  list.replaceChildren(
    ...peers.map((p) => {
      const li = document.createElement('li')
      li.dataset.client = String(p.ownerIDSelf)
      const dot = document.createElement('span')
      dot.className = 'dot'
      dot.style.background = p.color
      li.append(dot, p.name + (p.ownerIDSelf === app.room.clientID ? ' (you)' : ''))
      return li
    }),
  )
}

export function renderBanner(app: App, e: StatusEvent | null): void {
  const status = app.room.synced ? 'synced' : app.room.status
  const el = $('status')
  el.dataset.status = status
  const why = e && e.status !== 'connected' && e.code ? ` (${e.code}${e.reason ? ': ' + e.reason : ''})` : ''
  el.textContent = status + why
  $('room-name').textContent = app.room.name
  $('me').textContent = `${app.name} · client ${app.room.clientID}`
}

/** A toast that replaces the previous one; hides itself after a few seconds. */
export function createNotifier(): App['notify'] {
  const el = $('notice')
  let timer: ReturnType<typeof setTimeout> | null = null
  return (text, kind = 'info') => {
    el.textContent = text
    el.dataset.kind = kind
    el.classList.add('visible')
    if (timer) clearTimeout(timer)
    timer = setTimeout(() => el.classList.remove('visible'), 4000)
  }
}
