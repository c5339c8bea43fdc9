/**
 * Document names: the part of the URL after `#` (`/editor/#meeting-notes`). A name is also a
 * room name (`editor-<name>`), so it is kept to a short, URL-safe slug.
 */
export const DEFAULT_DOC = 'welcome'
export const ROOM_PREFIX = 'editor-'
export const INDEX_ROOM = 'editor-index'

/** "Meeting notes!" → "meeting-notes"; null when nothing usable is left. */
export function slugify(input: string): string | null {
  const slug = input
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 64)
  return slug.length > 0 ? slug : null
}

/** The open document: from the hash, or the default (and then the hash is written, so the link can be shared). */
export function docNameFromLocation(): string {
  const name = slugify(decodeURIComponent(location.hash.slice(1)))
  if (name === null || `#${name}` !== location.hash) {
    history.replaceState(null, '', `${location.pathname}${location.search}#${name ?? DEFAULT_DOC}`)
  }
  return name ?? DEFAULT_DOC
}
