/**
 * Registry reads every member's specs share (pools and approved prefixes, the hub's endpoint, the
 * cluster view), made once per registry change rather than per member: a burst of session starts
 * reads each once. Hub-wide, so kept apart from the per-peer entries.
 */
export class PerChangeReads<Name extends string> {
  private readonly reads = new Map<Name, Promise<unknown>>();

  /** The value of `name`, read now unless it was read since the last change; a failed read is not kept. */
  get<T>(name: Name, read: () => Promise<T>): Promise<T> {
    const kept = this.reads.get(name) as Promise<T> | undefined;
    if (kept) return kept;
    const started = read();
    this.reads.set(name, started);
    started.catch(() => {
      if (this.reads.get(name) === started) this.reads.delete(name);
    });
    return started;
  }

  /** Forgets every read: the registry changed. */
  clear(): void {
    this.reads.clear();
  }
}
