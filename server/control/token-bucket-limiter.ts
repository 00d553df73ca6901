/** How fast one key may act: a burst of `burst`, then one more every `refillMs`. */
export interface RateLimit {
  burst: number;
  refillMs: number;
}

/**
 * Token buckets per key (a peer name, a source address), in memory. At most `maxKeys` buckets are
 * kept; a full bucket is the same as none, so the oldest are dropped first when the map is full.
 */
export class TokenBucketLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(private readonly limit: RateLimit, private readonly clock: () => number = Date.now, private readonly maxKeys = 10_000) {}

  /** Takes one token for `key`: 0 when allowed, else the milliseconds until the next token. */
  take(key: string): number {
    const now = this.clock();
    const bucket = this.buckets.get(key) ?? { tokens: this.limit.burst, at: now };
    const refilled = Math.min(this.limit.burst, bucket.tokens + (now - bucket.at) / this.limit.refillMs);
    if (refilled < 1) {
      this.buckets.set(key, { tokens: refilled, at: now });
      return Math.ceil((1 - refilled) * this.limit.refillMs);
    }
    this.buckets.delete(key);
    this.buckets.set(key, { tokens: refilled - 1, at: now });
    if (this.buckets.size > this.maxKeys) {
      const oldest = this.buckets.keys().next().value;
      if (oldest !== undefined) this.buckets.delete(oldest);
    }
    return 0;
  }
}
