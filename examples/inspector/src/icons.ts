/** The flags' icons: inline SVG (no emoji font needed), with the flag's name as tooltip. */

const PATHS: Record<string, string> = {
  // a padlock
  preventOwnershipTakeover: 'M4 7V5a4 4 0 0 1 8 0v2h1v8H3V7h1zm2 0h4V5a2 2 0 0 0-4 0v2z',
  // an exit arrow out of a door
  destroyWhenOwnerOrLastClientLeaves: 'M2 2h7v2H4v8h5v2H2V2zm8 2.5L14 8l-4 3.5V9H6V7h4V4.5z',
}

export function flagIcon(flag: string, meaning: string): HTMLElement {
  const span = document.createElement('span')
  span.className = 'flag'
  span.dataset.flag = flag
  span.title = meaning ? `${flag}: ${meaning}` : flag
  span.innerHTML = `<svg viewBox="0 0 16 16" width="12" height="12" aria-hidden="true"><path fill="currentColor" d="${PATHS[flag]}"/></svg>`
  return span
}
