import { pairKey } from './pair-key.js';
import type { ShortcutCandidate } from './shortcut-candidates.js';
import type { ExistingLink } from './shortcut-teardown.js';

/** Which candidates are made and which shortcuts make room, under the per-member cap. */
export interface CapDecision {
  readonly create: ShortcutCandidate[];
  readonly evict: ExistingLink[];
}

interface Ranked {
  readonly key: string;
  readonly ends: readonly [string, string];
  readonly bitsPerSecond: number;
  /** An existing shortcut's last activity (ms); 0 for a candidate, which is never compared on it. */
  readonly lastActiveAt: number;
  readonly existing?: ExistingLink;
  readonly candidate?: ShortcutCandidate;
}

/**
 * Keeps every member at `maxPerMember` shortcuts or fewer, the least active going first. The
 * shortcuts that stay and the candidates are ranked together, most active first (bits/s; on a
 * tie an existing shortcut before a candidate, so equals do not churn, then the more recently
 * active), and each is taken while both its ends have room. A candidate left out is not made; a
 * shortcut left out is evicted. Operator links count for nothing here.
 */
export function applyShortcutCap(kept: readonly ExistingLink[], candidates: readonly ShortcutCandidate[], maxPerMember: number): CapDecision {
  const ranked: Ranked[] = [
    ...kept.filter((link) => link.kind === 'shortcut').map((link) => ({ key: pairKey(link.ends), ends: link.ends, bitsPerSecond: link.bitsPerSecond, lastActiveAt: link.lastActiveAt, existing: link })),
    ...candidates.map((candidate) => ({ key: pairKey(candidate.ends), ends: candidate.ends, bitsPerSecond: candidate.bitsPerSecond, lastActiveAt: 0, candidate })),
  ].sort(byActivity);
  const count = new Map<string, number>();
  const taken = new Set<string>();
  const create: ShortcutCandidate[] = [];
  const evict: ExistingLink[] = [];
  for (const entry of ranked) {
    const [a, b] = entry.ends;
    const room = !taken.has(entry.key) && (count.get(a) ?? 0) < maxPerMember && (count.get(b) ?? 0) < maxPerMember;
    if (room) {
      taken.add(entry.key);
      count.set(a, (count.get(a) ?? 0) + 1);
      count.set(b, (count.get(b) ?? 0) + 1);
      if (entry.candidate) create.push(entry.candidate);
    } else if (entry.existing) {
      evict.push(entry.existing);
    }
  }
  return { create, evict };
}

function byActivity(x: Ranked, y: Ranked): number {
  if (x.bitsPerSecond !== y.bitsPerSecond) return y.bitsPerSecond - x.bitsPerSecond;
  if ((x.existing === undefined) !== (y.existing === undefined)) return x.existing ? -1 : 1;
  if (x.lastActiveAt !== y.lastActiveAt) return y.lastActiveAt - x.lastActiveAt;
  return x.key < y.key ? -1 : x.key > y.key ? 1 : 0;
}
