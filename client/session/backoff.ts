/** Shape of the reconnect backoff. */
export interface BackoffPolicy {
  /** Delay before the first retry, before jitter. */
  baseMs: number;
  /** The delay never grows past this. */
  capMs: number;
}

/** Reconnect quickly at first, then no more often than every ~10 s. */
export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 200, capMs: 10_000 };

/**
 * Delay before reconnect attempt `attempt` (0-based): exponential growth capped at `capMs`, with
 * "equal jitter" (half fixed, half random) so a hub restart does not get every client back in
 * the same millisecond, while no client waits less than half the nominal delay.
 */
export function backoffDelay(attempt: number, policy: BackoffPolicy = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const nominal = Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(nominal / 2 + random() * (nominal / 2));
}
