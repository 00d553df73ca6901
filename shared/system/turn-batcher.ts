/**
 * Joins work asked for by many callers into batches: what is submitted in one turn of the event
 * loop, or while the previous batch is still with the kernel, runs as one batch, one batch at a
 * time, in the order submitted. Each caller gets the outputs of its own items. A thousand members
 * joining at once thus cost a few kernel round trips on one libuv thread, not a thousand.
 */
export class TurnBatcher<I, O> {
  #waiting: { items: readonly I[]; resolve: (outputs: O[]) => void; reject: (err: unknown) => void }[] = [];
  #busy = false;

  /**
   * `run` does one batch: one output per item, in order; a rejection (nothing could be tried)
   * rejects every caller of that batch.
   */
  constructor(private readonly run: (items: I[]) => Promise<O[]>) {}

  /** Queues `items`; resolves with their outputs once the batch they joined has run. */
  submit(items: readonly I[]): Promise<O[]> {
    if (items.length === 0) return Promise.resolve([]);
    return new Promise<O[]>((resolve, reject) => {
      this.#waiting.push({ items, resolve, reject });
      if (this.#busy) return;
      this.#busy = true;
      setImmediate(() => void this.#drain());
    });
  }

  async #drain(): Promise<void> {
    while (this.#waiting.length > 0) {
      const callers = this.#waiting;
      this.#waiting = [];
      const items = callers.flatMap((caller) => caller.items);
      let outputs: O[];
      try {
        outputs = await this.run(items);
      } catch (err) {
        for (const caller of callers) caller.reject(err);
        continue;
      }
      let at = 0;
      for (const caller of callers) {
        caller.resolve(outputs.slice(at, at + caller.items.length));
        at += caller.items.length;
      }
    }
    this.#busy = false;
  }
}
