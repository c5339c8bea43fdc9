/** A toast at the bottom of the page that replaces the previous one and hides itself. */
export function createNotifier(el: HTMLElement): (text: string, kind?: 'info' | 'warn') => void {
  let timer: ReturnType<typeof setTimeout> | null = null
  return (text, kind = 'info') => {
    el.textContent = text
    el.dataset.kind = kind
    el.classList.add('visible')
    if (timer) clearTimeout(timer)
    timer = setTimeout(() => el.classList.remove('visible'), 4000)
  }
}
