import type { ShortcutThreshold } from './shortcut-options.js';

/**
 * One reading of a member pair's forwarding counter on the hub: the bytes it forwarded between
 * the two, both ways together, since the counter started, and when (ms).
 */
export interface PairTrafficSample {
  readonly at: number;
  readonly bytes: number;
}

/** What the hub keeps of one pair's traffic from one reading to the next. */
export interface PairRate {
  readonly last: PairTrafficSample;
  /** The rate between the last two readings (bits/s); 0 after the first. */
  readonly bitsPerSecond: number;
  /** The reading since which every interval reached the threshold; null when the last one did not. */
  readonly busyFrom: PairTrafficSample | null;
}

/**
 * Folds one reading into a pair's rate. An interval at or above `thresholdBitsPerSecond` extends
 * the busy stretch, one below it ends the stretch. A counter that went backwards (the pair's
 * tunnels were re-made) starts over; a reading no later than the last tells nothing and is ignored.
 */
export function observePairTraffic(previous: PairRate | undefined, sample: PairTrafficSample, thresholdBitsPerSecond: number): PairRate {
  if (previous === undefined || sample.bytes < previous.last.bytes) return { last: sample, bitsPerSecond: 0, busyFrom: null };
  const ms = sample.at - previous.last.at;
  if (ms <= 0) return previous;
  const bitsPerSecond = ((sample.bytes - previous.last.bytes) * 8000) / ms;
  const busyFrom = bitsPerSecond >= thresholdBitsPerSecond ? (previous.busyFrom ?? previous.last) : null;
  return { last: sample, bitsPerSecond, busyFrom };
}

/**
 * The pair's average rate over its busy stretch (bits/s) when the stretch has lasted the
 * threshold's duration, averages at least its rate, and its last reading is no older than that
 * duration; else null.
 */
export function sustainedRate(rate: PairRate, threshold: ShortcutThreshold, now: number): number | null {
  const from = rate.busyFrom;
  if (from === null || now - rate.last.at > threshold.sustainMs) return null;
  const ms = rate.last.at - from.at;
  if (ms < threshold.sustainMs || ms <= 0) return null;
  // Checked again here: the stretch may have been folded under another threshold.
  const average = ((rate.last.bytes - from.bytes) * 8000) / ms;
  return average >= threshold.bitsPerSecond ? average : null;
}
