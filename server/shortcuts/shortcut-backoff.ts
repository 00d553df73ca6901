/** Why a shortcut could not be made or stopped working; recorded with the pair and shown. */
export const SHORTCUT_FAILURE_REASONS = ['symmetric-nat', 'unanswered', 'address-families-differ', 'endpoint-unknown'] as const;

/** One of {@link SHORTCUT_FAILURE_REASONS}. */
export type ShortcutFailureReason = (typeof SHORTCUT_FAILURE_REASONS)[number];

/** How long a pair whose shortcut failed stays on the hub: the first wait, doubling up to a ceiling. */
export interface ShortcutRetry {
  readonly firstMs: number;
  readonly maxMs: number;
}

/** 30 s after a first failure, then 1, 2, 4 … minutes, never more than an hour. */
export const SHORTCUT_RETRY: ShortcutRetry = { firstMs: 30_000, maxMs: 3_600_000 };

/** The two ends' verified endpoints (address:port), in the pair's order; null where unknown. */
export type PairEndpoints = readonly [string | null, string | null];

/** A pair whose shortcut failed: why, how many times in a row, and when it may be tried again. */
export interface ShortcutFailure {
  readonly reason: ShortcutFailureReason;
  /** Failures in a row at these endpoints. */
  readonly failures: number;
  readonly failedAt: number;
  readonly retryAt: number;
  /** Where the ends were when it failed: a move is a new path, tried again at once. */
  readonly endpoints: PairEndpoints;
}

/**
 * Records one more failure of a pair's shortcut. The wait doubles with each failure in a row
 * (`firstMs`, 2×, 4× … up to `maxMs`); a failure at other endpoints than the last (an end moved)
 * counts from one again. A shortcut that comes up clears the record (the caller drops it).
 */
export function recordShortcutFailure(previous: ShortcutFailure | undefined, failure: { reason: ShortcutFailureReason; now: number; endpoints: PairEndpoints },
  retry: ShortcutRetry = SHORTCUT_RETRY): ShortcutFailure {
  const failures = previous !== undefined && sameEndpoints(previous.endpoints, failure.endpoints) ? previous.failures + 1 : 1;
  const wait = Math.min(retry.maxMs, retry.firstMs * 2 ** Math.min(failures - 1, 40));
  return { reason: failure.reason, failures, failedAt: failure.now, retryAt: failure.now + wait, endpoints: failure.endpoints };
}

/** True when the pair may be tried: it never failed, its wait is over, or an end has moved since. */
export function shortcutRetryDue(failure: ShortcutFailure | undefined, now: number, endpoints: PairEndpoints): boolean {
  return failure === undefined || now >= failure.retryAt || !sameEndpoints(failure.endpoints, endpoints);
}

function sameEndpoints(a: PairEndpoints, b: PairEndpoints): boolean {
  return a[0] === b[0] && a[1] === b[1];
}
