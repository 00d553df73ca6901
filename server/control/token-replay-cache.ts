/**
 * Remembers the ids (jti) of client-signed tokens until they expire, so a token captured on the
 * way (over plain ws://, say) cannot open a second session. Bounded: the oldest entries go first.
 */
export class TokenReplayCache {
  private readonly seen = new Map<string, number>();

  constructor(private readonly maxEntries = 100_000) {}

  /** Records `jti` (valid until `expiresAt` ms); false when it was already used. */
  use(jti: string, expiresAt: number, now: number): boolean {
    this.prune(now);
    if (this.seen.has(jti)) return false;
    if (this.seen.size >= this.maxEntries) {
      const oldest = this.seen.keys().next();
      if (!oldest.done) this.seen.delete(oldest.value);
    }
    this.seen.set(jti, expiresAt);
    return true;
  }

  private prune(now: number): void {
    // Insertion order is close to expiry order (lifetimes are capped), so stop at the first live one.
    for (const [jti, expiresAt] of this.seen) {
      if (expiresAt > now) break;
      this.seen.delete(jti);
    }
  }
}
