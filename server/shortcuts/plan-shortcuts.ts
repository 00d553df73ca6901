import { pairKey } from './pair-key.js';
import { applyShortcutCap } from './shortcut-cap.js';
import { findShortcutCandidates, type PairObservation, type ShortcutCandidate } from './shortcut-candidates.js';
import type { ShortcutMember } from './shortcut-member.js';
import type { ShortcutOptions } from './shortcut-options.js';
import { chooseShortcutTeardowns, type ExistingLink, type ShortcutRemoval } from './shortcut-teardown.js';

/** Everything one round of shortcut decisions looks at. */
export interface ShortcutFacts {
  readonly options: ShortcutOptions;
  readonly now: number;
  readonly members: ReadonlyMap<string, ShortcutMember>;
  /** Every peer<->peer link, the operator's too. */
  readonly links: readonly ExistingLink[];
  /** The member pairs the hub forwards between, with their rates. */
  readonly pairs: readonly PairObservation[];
}

/** One round's outcome, for the hub to carry out: removals first (their routes go first), then new shortcuts. */
export interface ShortcutPlan {
  readonly create: ShortcutCandidate[];
  readonly remove: ShortcutRemoval[];
  /** Shortcuts that stay, whose path is punched again because an end moved. */
  readonly rePunch: ExistingLink[];
}

/**
 * One round of shortcut decisions: the teardown decision, then the candidates among pairs with
 * no link, then the per-member cap over what stays and what is new (least active evicted first,
 * reason `cap`). Operator links are never removed and never counted.
 */
export function planShortcuts(facts: ShortcutFacts): ShortcutPlan {
  const teardown = chooseShortcutTeardowns(facts);
  const removed = new Set(teardown.remove.map((removal) => removal.link.linkId));
  const kept = facts.links.filter((link) => link.kind === 'shortcut' && !removed.has(link.linkId));
  // A pair whose link goes this round gets no new one in the same round.
  const linked = new Set(facts.links.map((link) => pairKey(link.ends)));
  const candidates = findShortcutCandidates({ ...facts, pairs: facts.pairs.filter((pair) => !linked.has(pairKey(pair.ends))) });
  const cap = applyShortcutCap(kept, candidates, facts.options.maxPerMember);
  const evicted = new Set(cap.evict.map((link) => link.linkId));
  return {
    create: cap.create,
    remove: [...teardown.remove, ...cap.evict.map((link) => ({ link, reason: 'cap' as const }))],
    rePunch: teardown.rePunch.filter((link) => !evicted.has(link.linkId)),
  };
}
