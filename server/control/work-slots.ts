/**
 * At most `size` async jobs run at once; the others wait their turn, first come first served.
 * The control plane runs reconfigurations through it: a burst of session starts (a hub taking
 * over the members of a hub that died) then finishes member after member, each with its config
 * out early, instead of advancing all of them a registry round trip at a time so that every config
 * leaves at the very end.
 */
export class WorkSlots {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly size: number) {}

  /** Runs `job` once a slot is free; the slot is freed however `job` ends. */
  async run<T>(job: () => Promise<T>): Promise<T> {
    if (this.running >= this.size) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.running += 1;
    try {
      return await job();
    } finally {
      const next = this.waiting.shift();
      // The slot passes straight to the next job in line, so a newcomer never jumps the queue.
      if (next) next();
      else this.running -= 1;
    }
  }
}
