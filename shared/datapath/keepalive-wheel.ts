/** Width of one slot of the wheel: keepalives fall due at most this much after their time. */
export const KEEPALIVE_TICK_MS = 100;

/**
 * One timer for the keepalives of every tunnel (a hashed timer wheel): each tunnel waits in the
 * slot of the tick its next keepalive falls in, and every tick hands the tunnels due in it to
 * `onDue` together, which sends them in one batch per socket. A hub with thousands of tunnels
 * thus wakes ten times a second with a handful due, instead of running a timer per tunnel. The
 * timer runs only while some tunnel waits, and never keeps the process alive.
 */
export class KeepaliveWheel<T> {
  readonly #slots = new Map<number, Set<T>>();
  readonly #slotOf = new Map<T, number>();
  #timer: NodeJS.Timeout | null = null;
  /** The last tick whose slot was handed out. */
  #done = 0;

  constructor(private readonly onDue: (due: T[]) => void, private readonly tickMs = KEEPALIVE_TICK_MS) {}

  /** Makes `item` due `delayMs` from now (rounded up to the next tick), instead of when it was. */
  schedule(item: T, delayMs: number): void {
    this.cancel(item);
    const tick = Math.max(Math.ceil((Date.now() + delayMs) / this.tickMs), this.#done + 1);
    let slot = this.#slots.get(tick);
    if (slot === undefined) {
      slot = new Set();
      this.#slots.set(tick, slot);
    }
    slot.add(item);
    this.#slotOf.set(item, tick);
    if (this.#timer === null) {
      this.#done = Math.min(tick, Math.floor(Date.now() / this.tickMs)) - 1;
      this.#timer = setInterval(() => this.#turn(), this.tickMs);
      this.#timer.unref();
    }
  }

  /** `item` waits no more. */
  cancel(item: T): void {
    const tick = this.#slotOf.get(item);
    if (tick === undefined) return;
    this.#slotOf.delete(item);
    const slot = this.#slots.get(tick);
    slot?.delete(item);
    if (slot?.size === 0) this.#slots.delete(tick);
    if (this.#slotOf.size === 0 && this.#timer !== null) {
      clearInterval(this.#timer);
      this.#timer = null;
    }
  }

  /** True while `item` waits. */
  has(item: T): boolean {
    return this.#slotOf.has(item);
  }

  /** How many items wait. */
  get size(): number {
    return this.#slotOf.size;
  }

  #turn(): void {
    const now = Math.floor(Date.now() / this.tickMs);
    const due: T[] = [];
    // Normally one tick has passed; after a long stall, walk the slots there are instead of every tick.
    const ticks = now - this.#done <= this.#slots.size ? range(this.#done + 1, now) : [...this.#slots.keys()].filter((tick) => tick <= now).sort((a, b) => a - b);
    for (const tick of ticks) {
      const slot = this.#slots.get(tick);
      if (slot === undefined) continue;
      this.#slots.delete(tick);
      for (const item of slot) {
        this.#slotOf.delete(item);
        due.push(item);
      }
    }
    this.#done = Math.max(this.#done, now);
    if (this.#slotOf.size === 0 && this.#timer !== null) {
      clearInterval(this.#timer);
      this.#timer = null;
    }
    if (due.length > 0) this.onDue(due);
  }
}

function range(from: number, to: number): number[] {
  const out: number[] = [];
  for (let tick = from; tick <= to; tick++) out.push(tick);
  return out;
}
