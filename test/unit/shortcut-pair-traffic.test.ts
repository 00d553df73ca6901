import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { observePairTraffic, sustainedRate, type PairRate } from '../../server/shortcuts/pair-traffic.js';

const T0 = Date.UTC(2026, 0, 1);

/** Readings every `ms`, each interval carrying `kBps` kilobytes a second (kBps × 8000 bit/s, bytes exact). */
function fold(intervals: readonly { ms: number; kBps: number }[], threshold: number): PairRate {
  let rate = observePairTraffic(undefined, { at: T0, bytes: 0 }, threshold);
  let at = T0;
  let bytes = 0;
  for (const { ms, kBps } of intervals) {
    at += ms;
    bytes += kBps * ms;
    rate = observePairTraffic(rate, { at, bytes }, threshold);
  }
  return rate;
}

const intervals = fc.array(fc.record({ ms: fc.integer({ min: 50, max: 3_000 }), kBps: fc.integer({ min: 0, max: 1_000 }) }), { minLength: 1, maxLength: 30 });
const thresholds = fc.record({ bitsPerSecond: fc.integer({ min: 1, max: 8_000_000 }), sustainMs: fc.integer({ min: 50, max: 10_000 }) });

describe('a pair\'s rate through the hub against the threshold', () => {
  it('1 Mbit/s for 2 s: a candidate after 2 s at 1.6 Mbit/s, not after 1.5 s, and not once a reading falls below', () => {
    const threshold = { bitsPerSecond: 1_000_000, sustainMs: 2_000 };
    const busy = fold(Array.from({ length: 4 }, () => ({ ms: 500, kBps: 200 })), threshold.bitsPerSecond);
    expect(sustainedRate(busy, threshold, T0 + 2_000)).toBe(1_600_000);
    expect(sustainedRate(fold(Array.from({ length: 3 }, () => ({ ms: 500, kBps: 200 })), threshold.bitsPerSecond), threshold, T0 + 1_500)).toBeNull();
    const dipped = fold([...Array.from({ length: 4 }, () => ({ ms: 500, kBps: 200 })), { ms: 500, kBps: 100 }], threshold.bitsPerSecond);
    expect(dipped.bitsPerSecond).toBe(800_000);
    expect(sustainedRate(dipped, threshold, T0 + 2_500)).toBeNull();
  });

  it('starts over when the counter goes backwards, ignores a reading no later than the last, and forgets a stale stretch', () => {
    const threshold = { bitsPerSecond: 1_000_000, sustainMs: 2_000 };
    const busy = fold(Array.from({ length: 5 }, () => ({ ms: 500, kBps: 200 })), threshold.bitsPerSecond);
    expect(observePairTraffic(busy, { at: busy.last.at + 500, bytes: 10 }, threshold.bitsPerSecond)).toEqual({ last: { at: busy.last.at + 500, bytes: 10 }, bitsPerSecond: 0, busyFrom: null });
    expect(observePairTraffic(busy, { at: busy.last.at, bytes: busy.last.bytes + 1_000_000 }, threshold.bitsPerSecond)).toBe(busy);
    expect(sustainedRate(busy, threshold, busy.last.at + 2_000)).not.toBeNull();
    expect(sustainedRate(busy, threshold, busy.last.at + 2_001)).toBeNull();
  });

  it('(property) a candidate exactly when the readings of the last threshold duration or more all reached the rate', () => {
    fc.assert(fc.property(intervals, thresholds, (steps, threshold) => {
      const rate = fold(steps, threshold.bitsPerSecond);
      // The model: the longest run of intervals at or above the rate that ends with the last one.
      let span = 0;
      for (let i = steps.length - 1; i >= 0 && steps[i]!.kBps * 8000 >= threshold.bitsPerSecond; i--) span += steps[i]!.ms;
      const result = sustainedRate(rate, threshold, rate.last.at);
      expect(result !== null).toBe(span >= threshold.sustainMs);
      if (result !== null) expect(result).toBeGreaterThanOrEqual(threshold.bitsPerSecond);
    }));
  });

  it('(property) never a candidate while the last reading is below the rate; always one after the duration above it', () => {
    fc.assert(fc.property(intervals, thresholds, (steps, threshold) => {
      const rate = fold(steps, threshold.bitsPerSecond);
      const last = steps[steps.length - 1]!;
      if (last.kBps * 8000 < threshold.bitsPerSecond) expect(sustainedRate(rate, threshold, rate.last.at)).toBeNull();
      const above = steps.every((step) => step.kBps * 8000 >= threshold.bitsPerSecond);
      const total = steps.reduce((sum, step) => sum + step.ms, 0);
      if (above && total >= threshold.sustainMs) expect(sustainedRate(rate, threshold, rate.last.at)).not.toBeNull();
    }));
  });
});
