/**
 * A small typed event emitter. `on` returns the function that unsubscribes, which is what
 * UI code wants (React effects, Svelte/Vue lifecycles). A throwing listener is reported
 * (console.error) and does not stop the others: listeners run inside Yjs transaction cleanup, where an
 * exception would leave the remaining observers of that transaction uncalled.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type EventMap = { [name: string]: (...args: any[]) => void }

export class Emitter<E extends EventMap> {
  // Untyped storage keeps Emitter<E> covariant in E (a set's emitter is a model's emitter).
  private listeners = new Map<string, Set<(...args: never[]) => void>>()

  on<K extends keyof E & string>(name: K, fn: E[K]): () => void {
    let set = this.listeners.get(name)
    if (!set) this.listeners.set(name, (set = new Set()))
    set.add(fn)
    return () => this.off(name, fn)
  }

  once<K extends keyof E & string>(name: K, fn: E[K]): () => void {
    const wrapped = ((...args: Parameters<E[K]>) => {
      off()
      fn(...args)
    }) as E[K]
    const off = this.on(name, wrapped)
    return off
  }

  off<K extends keyof E & string>(name: K, fn: E[K]): void {
    const set = this.listeners.get(name)
    if (!set) return
    set.delete(fn)
    if (set.size === 0) this.listeners.delete(name)
  }

  /** True when someone listens to `name` (lets callers skip building event objects). */
  has(name: keyof E & string): boolean {
    return this.listeners.has(name)
  }

  emit<K extends keyof E & string>(name: K, ...args: Parameters<E[K]>): void {
    const set = this.listeners.get(name)
    if (!set) return
    for (const fn of [...set]) {
      try {
        ;(fn as unknown as (...a: Parameters<E[K]>) => void)(...args)
      } catch (err) {
        reportListenerError(err)
      }
    }
  }

  clear(): void {
    this.listeners.clear()
  }
}

function reportListenerError(err: unknown): void {
  console.error('yroom: an event listener threw', err)
}
