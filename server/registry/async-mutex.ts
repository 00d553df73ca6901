/**
 * A first-come first-served lock for async work in one process: the SQLite backend holds it for a
 * whole transaction, so two async callers never interleave statements on its one connection.
 */
export class AsyncMutex {
  private tail: Promise<void> = Promise.resolve();
  private holders = 0;

  /** True while a holder runs or waiters queue. */
  get busy(): boolean {
    return this.holders > 0;
  }

  /** Runs `fn` once every earlier holder has finished; the lock is released however `fn` ends. */
  run<T>(fn: () => Promise<T>): Promise<T> {
    this.holders += 1;
    const result = this.tail.then(fn);
    this.tail = result.then(() => undefined, () => undefined).finally(() => {
      this.holders -= 1;
    });
    return result;
  }
}
