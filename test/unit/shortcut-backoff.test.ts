import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { recordShortcutFailure, SHORTCUT_FAILURE_REASONS, shortcutRetryDue, type PairEndpoints, type ShortcutFailure } from '../../server/shortcuts/shortcut-backoff.js';

const T0 = Date.UTC(2026, 0, 1);
const HERE: PairEndpoints = ['198.51.100.10:4754', '203.0.113.20:4754'];
const MOVED: PairEndpoints = ['198.51.100.10:4754', '203.0.113.21:4754'];

describe('retrying a pair whose shortcut failed', () => {
  it('waits 30 s, then 1, 2, 4 min … never more than an hour, keeping the reason', () => {
    let failure: ShortcutFailure | undefined;
    const waits: number[] = [];
    for (let i = 0; i < 10; i++) {
      failure = recordShortcutFailure(failure, { reason: 'symmetric-nat', now: T0, endpoints: HERE });
      waits.push(failure.retryAt - failure.failedAt);
    }
    expect(waits).toEqual([30_000, 60_000, 120_000, 240_000, 480_000, 960_000, 1_920_000, 3_600_000, 3_600_000, 3_600_000]);
    expect(failure).toMatchObject({ reason: 'symmetric-nat', failures: 10 });
  });

  it('is due once the wait is over, or at once when an end moved; a failure after a move counts from one', () => {
    const failure = recordShortcutFailure(recordShortcutFailure(undefined, { reason: 'unanswered', now: T0, endpoints: HERE }), { reason: 'unanswered', now: T0, endpoints: HERE });
    expect(shortcutRetryDue(failure, T0 + 59_999, HERE)).toBe(false);
    expect(shortcutRetryDue(failure, T0 + 60_000, HERE)).toBe(true);
    expect(shortcutRetryDue(failure, T0 + 1, MOVED)).toBe(true);
    expect(recordShortcutFailure(failure, { reason: 'unanswered', now: T0 + 1, endpoints: MOVED })).toMatchObject({ failures: 1, retryAt: T0 + 1 + 30_000 });
    expect(shortcutRetryDue(undefined, T0, HERE)).toBe(true);
  });

  it('(property) the wait never shrinks and never passes the ceiling while failures continue in place; a reset starts from the first wait', () => {
    fc.assert(fc.property(
      fc.array(fc.record({ gap: fc.integer({ min: 0, max: 7_200_000 }), reason: fc.constantFrom(...SHORTCUT_FAILURE_REASONS) }), { minLength: 1, maxLength: 40 }),
      fc.record({ firstMs: fc.integer({ min: 1, max: 600_000 }), extra: fc.integer({ min: 0, max: 86_400_000 }) }),
      (failures, { firstMs, extra }) => {
        const retry = { firstMs, maxMs: firstMs + extra };
        let failure: ShortcutFailure | undefined;
        let now = T0;
        let wait = 0;
        for (const { gap, reason } of failures) {
          now += gap;
          failure = recordShortcutFailure(failure, { reason, now, endpoints: HERE }, retry);
          const next = failure.retryAt - failure.failedAt;
          expect(next).toBeGreaterThanOrEqual(wait);
          expect(next).toBeLessThanOrEqual(retry.maxMs);
          expect(next).toBe(Math.min(retry.maxMs, firstMs * 2 ** (failure.failures - 1)));
          expect(shortcutRetryDue(failure, failure.retryAt - 1, HERE)).toBe(false);
          expect(shortcutRetryDue(failure, failure.retryAt, HERE)).toBe(true);
          wait = next;
        }
        // A shortcut that came up drops the record: the next failure waits the first wait again.
        expect(recordShortcutFailure(undefined, { reason: 'unanswered', now, endpoints: HERE }, retry).retryAt - now).toBe(firstMs);
      }));
  });
});
