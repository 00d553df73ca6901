import { formatBitRate } from './bit-rate.js';
import { sustainedRate, type PairRate } from './pair-traffic.js';
import { shortcutRetryDue, type ShortcutFailure } from './shortcut-backoff.js';
import { memberTakesPart, type ShortcutMember } from './shortcut-member.js';
import type { ShortcutOptions } from './shortcut-options.js';

/** What the hub observed of one member pair it forwards between. */
export interface PairObservation {
  readonly ends: readonly [string, string];
  readonly rate: PairRate;
  /**
   * The two may reach each other directly: the hub routes between members (`--routing static`)
   * and each end's traffic is its own or from its approved prefixes. Worked out by the caller.
   */
  readonly allowed: boolean;
  /** A link (the operator's or a shortcut) already joins the two. */
  readonly linked: boolean;
  /** The pair's last failed shortcut, if it has one. */
  readonly failure?: ShortcutFailure;
}

/** A pair that should get a shortcut, and why (`rate 3.2 Mbit/s`). */
export interface ShortcutCandidate {
  readonly ends: readonly [string, string];
  /** Its average rate over the busy stretch (bits/s). */
  readonly bitsPerSecond: number;
  readonly why: string;
}

/** Everything the candidate decision looks at. */
export interface CandidateFacts {
  readonly options: ShortcutOptions;
  readonly now: number;
  readonly members: ReadonlyMap<string, ShortcutMember>;
  readonly pairs: readonly PairObservation[];
}

/**
 * The pairs that should get a shortcut now, busiest first: the hub's mode is auto; both ends
 * take part (on, running the client, connected); the pair may reach each other, is not linked
 * yet, and is not waiting out a failure's backoff; and its traffic through the hub has stayed at
 * or above the threshold's rate for the threshold's duration. Caps are applied afterwards
 * ({@link applyShortcutCap}).
 */
export function findShortcutCandidates(facts: CandidateFacts): ShortcutCandidate[] {
  const { options, now, members } = facts;
  const candidates: ShortcutCandidate[] = [];
  for (const pair of facts.pairs) {
    const [a, b] = pair.ends;
    if (a === b || pair.linked || !pair.allowed) continue;
    const memberA = members.get(a);
    const memberB = members.get(b);
    if (!memberTakesPart(memberA, options.mode) || !memberTakesPart(memberB, options.mode)) continue;
    if (!shortcutRetryDue(pair.failure, now, [memberA?.endpoint ?? null, memberB?.endpoint ?? null])) continue;
    const bitsPerSecond = sustainedRate(pair.rate, options.threshold, now);
    if (bitsPerSecond === null) continue;
    candidates.push({ ends: pair.ends, bitsPerSecond, why: `rate ${formatBitRate(bitsPerSecond)}` });
  }
  return candidates.sort((x, y) => y.bitsPerSecond - x.bitsPerSecond);
}
