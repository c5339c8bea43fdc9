/** Per-second counts and a bounded history of them, for the inspector's rates and timeline. */

/** Counts events within the current second; `roll` closes the second and returns its count. */
export class Rate {
  private count = 0
  /** The last closed second's count. */
  perSecond = 0

  add(n = 1): void {
    this.count += n
  }

  roll(): number {
    this.perSecond = this.count
    this.count = 0
    return this.perSecond
  }
}

/** The last `max` entries of a sequence. */
export class Ring<T> {
  private items: T[] = []
  constructor(private readonly max: number) {}

  push(item: T): void {
    this.items.push(item)
    if (this.items.length > this.max) this.items.splice(0, this.items.length - this.max)
  }

  toArray(): T[] {
    return [...this.items]
  }
}
