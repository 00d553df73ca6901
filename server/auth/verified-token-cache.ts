import { createHash } from 'node:crypto';

/**
 * What a token's signature check established, kept by a digest of the token's bytes until the
 * token expires, so a member reconnecting with the same token (a move, a restart of its link)
 * skips the signature check. Only the signature and fixed claims are remembered: whatever can
 * change (the peer's token version, its revocation, whether it still exists) is the caller's to
 * check on every use. Bounded: when full, the oldest entry goes first.
 */
export class VerifiedTokenCache<T> {
  private readonly entries = new Map<string, { value: T; expiresAt: number }>();

  constructor(private readonly maxEntries = 20_000) {}

  /** The claims verified for `token`, or undefined when unknown or expired at `now` (ms). */
  get(token: string, now: number): T | undefined {
    const key = digest(token);
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= now) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  /** Remembers `value` for `token` until `expiresAt` (ms since the epoch). */
  set(token: string, value: T, expiresAt: number): void {
    const key = digest(token);
    this.entries.delete(key);
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(key, { value, expiresAt });
  }

  /** How many tokens are remembered. */
  get size(): number {
    return this.entries.size;
  }
}

function digest(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}
