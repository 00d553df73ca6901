import type { PairEndpoints, ShortcutFailureReason } from './shortcut-backoff.js';
import { memberTakesPart, type ShortcutMember } from './shortcut-member.js';
import type { ShortcutOptions } from './shortcut-options.js';

/** A peer<->peer link as the shortcut decisions see it. Operator links are given too, and left alone. */
export interface ExistingLink {
  readonly linkId: number;
  readonly ends: readonly [string, string];
  /** `operator`: made with `link add`, never touched here; `shortcut`: made by the hub. */
  readonly kind: 'operator' | 'shortcut';
  /** When traffic last crossed it (ms); its creation until then. */
  readonly lastActiveAt: number;
  /** Its recent traffic (bits/s), 0 when none is reported: ranks shortcuts under a cap. */
  readonly bitsPerSecond: number;
  /** The ends' endpoints its path was punched for. */
  readonly endpoints: PairEndpoints;
  /** Why it stopped working (liveness lost, never verified), or null while it works. */
  readonly failed: ShortcutFailureReason | null;
  /** The two may still reach each other (routing and approved prefixes, as for a candidate). */
  readonly allowed: boolean;
}

/** Why a shortcut is removed. */
export type ShortcutRemovalReason = 'member-revoked' | 'member-left' | 'disabled' | 'not-allowed' | 'failed' | 'idle' | 'cap';

/** One shortcut to remove, and why. */
export interface ShortcutRemoval {
  readonly link: ExistingLink;
  readonly reason: ShortcutRemovalReason;
}

/** The teardown decision: shortcuts to remove, and those whose path must be punched again. */
export interface TeardownDecision {
  readonly remove: ShortcutRemoval[];
  /** Shortcuts that stay but whose end moved: the hub punches their path again on the same /30. */
  readonly rePunch: ExistingLink[];
}

/** Everything the teardown decision looks at. */
export interface TeardownFacts {
  readonly options: ShortcutOptions;
  readonly now: number;
  readonly members: ReadonlyMap<string, ShortcutMember>;
  readonly links: readonly ExistingLink[];
}

/**
 * Which shortcuts go, with the first reason that holds: an end revoked, an end gone (its session
 * ended, or removed), shortcuts off (the hub's mode, either end's setting, an end no longer
 * running the client), the pair no longer allowed, the shortcut failed (at once, whatever its
 * age), or idle for `idleMs`. A shortcut that stays but whose end moved is punched again. Operator
 * links are never chosen. The cap is applied afterwards ({@link applyShortcutCap}).
 */
export function chooseShortcutTeardowns(facts: TeardownFacts): TeardownDecision {
  const remove: ShortcutRemoval[] = [];
  const rePunch: ExistingLink[] = [];
  for (const link of facts.links) {
    if (link.kind !== 'shortcut') continue;
    const reason = removalReason(link, facts);
    if (reason !== null) remove.push({ link, reason });
    else if (moved(link, facts.members)) rePunch.push(link);
  }
  return { remove, rePunch };
}

function removalReason(link: ExistingLink, facts: TeardownFacts): ShortcutRemovalReason | null {
  const ends = link.ends.map((name) => facts.members.get(name));
  if (ends.some((member) => member?.state === 'revoked')) return 'member-revoked';
  if (ends.some((member) => member === undefined || member.state === 'left')) return 'member-left';
  if (!ends.every((member) => memberTakesPart(member, facts.options.mode))) return 'disabled';
  if (!link.allowed) return 'not-allowed';
  if (link.failed !== null) return 'failed';
  if (facts.now - link.lastActiveAt >= facts.options.idleMs) return 'idle';
  return null;
}

function moved(link: ExistingLink, members: ReadonlyMap<string, ShortcutMember>): boolean {
  return link.ends.some((name, end) => (members.get(name)?.endpoint ?? null) !== link.endpoints[end]);
}
