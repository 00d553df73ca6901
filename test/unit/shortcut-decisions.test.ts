import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { pairKey } from '../../server/shortcuts/pair-key.js';
import type { PairRate } from '../../server/shortcuts/pair-traffic.js';
import { planShortcuts, type ShortcutFacts } from '../../server/shortcuts/plan-shortcuts.js';
import { recordShortcutFailure, SHORTCUT_FAILURE_REASONS } from '../../server/shortcuts/shortcut-backoff.js';
import { applyShortcutCap } from '../../server/shortcuts/shortcut-cap.js';
import { findShortcutCandidates, type PairObservation } from '../../server/shortcuts/shortcut-candidates.js';
import type { ShortcutMember } from '../../server/shortcuts/shortcut-member.js';
import { DEFAULT_SHORTCUT_OPTIONS, type ShortcutOptions } from '../../server/shortcuts/shortcut-options.js';
import { chooseShortcutTeardowns, type ExistingLink } from '../../server/shortcuts/shortcut-teardown.js';

const T0 = Date.UTC(2026, 0, 1);
const NOW = T0 + 600_000;
const NAMES = ['c1', 'c2', 'c3', 'c4', 'c5', 'c6'] as const;

const member = (name: string, over: Partial<ShortcutMember> = {}): ShortcutMember => ({
  name, shortcuts: true, runsClient: true, state: 'connected', endpoint: `${name}:4754`, ...over,
});
const members = (...list: ShortcutMember[]) => new Map(list.map((m) => [m.name, m]));
/** A pair busy at `bitsPerSecond` for `ms` up to NOW (1000-byte readings make it exact). */
const busyFor = (bitsPerSecond: number, ms: number): PairRate => ({
  last: { at: NOW, bytes: (bitsPerSecond * ms) / 8000 }, bitsPerSecond, busyFrom: { at: NOW - ms, bytes: 0 },
});
const pair = (a: string, b: string, rate: PairRate, over: Partial<PairObservation> = {}): PairObservation => ({ ends: [a, b], rate, allowed: true, linked: false, ...over });
const link = (id: number, a: string, b: string, over: Partial<ExistingLink> = {}): ExistingLink => ({
  linkId: id, ends: [a, b], kind: 'shortcut', lastActiveAt: NOW - 1_000, bitsPerSecond: 0, endpoints: [`${a}:4754`, `${b}:4754`], failed: null, allowed: true, ...over,
});
const facts = (over: Partial<ShortcutFacts> = {}): ShortcutFacts => ({
  options: DEFAULT_SHORTCUT_OPTIONS, now: NOW, members: members(...NAMES.map((n) => member(n))), links: [], pairs: [], ...over,
});

describe('the candidate decision', () => {
  it('makes a pair above 1 Mbit/s for 2 s a candidate, says why, busiest first', () => {
    const candidates = findShortcutCandidates(facts({ pairs: [pair('c1', 'c2', busyFor(3_200_000, 2_000)), pair('c3', 'c4', busyFor(9_000_000, 5_000))] }));
    expect(candidates).toEqual([
      { ends: ['c3', 'c4'], bitsPerSecond: 9_000_000, why: 'rate 9 Mbit/s' },
      { ends: ['c1', 'c2'], bitsPerSecond: 3_200_000, why: 'rate 3.2 Mbit/s' },
    ]);
  });

  it('leaves out pairs not yet busy long enough, not allowed, already linked, opted out, kernel routers, gone, or waiting out a failure', () => {
    const busy = busyFor(3_200_000, 2_000);
    const failed = recordShortcutFailure(undefined, { reason: 'symmetric-nat', now: NOW - 1_000, endpoints: ['c1:4754', 'c2:4754'] });
    const cases: [string, Partial<ShortcutFacts>][] = [
      ['1.9 s busy', { pairs: [pair('c1', 'c2', busyFor(3_200_000, 1_900))] }],
      ['not allowed', { pairs: [pair('c1', 'c2', busy, { allowed: false })] }],
      ['linked', { pairs: [pair('c1', 'c2', busy, { linked: true })] }],
      ['c2 off', { pairs: [pair('c1', 'c2', busy)], members: members(member('c1'), member('c2', { shortcuts: false })) }],
      ['c2 a kernel router', { pairs: [pair('c1', 'c2', busy)], members: members(member('c1'), member('c2', { runsClient: false })) }],
      ['c2 left', { pairs: [pair('c1', 'c2', busy)], members: members(member('c1'), member('c2', { state: 'left' })) }],
      ['c2 unknown', { pairs: [pair('c1', 'c2', busy)], members: members(member('c1')) }],
      ['hub off', { pairs: [pair('c1', 'c2', busy)], options: { ...DEFAULT_SHORTCUT_OPTIONS, mode: 'off' } }],
      ['backoff', { pairs: [pair('c1', 'c2', busy, { failure: failed })] }],
    ];
    for (const [name, over] of cases) expect(findShortcutCandidates(facts(over)), name).toEqual([]);
    // The same failure no longer holds it back once its wait is over, or once an end moved.
    const waitedOut = recordShortcutFailure(undefined, { reason: 'symmetric-nat', now: NOW - 30_000, endpoints: ['c1:4754', 'c2:4754'] });
    expect(findShortcutCandidates(facts({ pairs: [pair('c1', 'c2', busy, { failure: waitedOut })] }))).toHaveLength(1);
    expect(findShortcutCandidates(facts({ pairs: [pair('c1', 'c2', busy, { failure: failed })], members: members(member('c1'), member('c2', { endpoint: 'c2:9999' })) }))).toHaveLength(1);
  });
});

describe('the teardown decision', () => {
  it('removes an idle shortcut after --shortcut-idle, a failed one at once, and never an operator link', () => {
    const idle = DEFAULT_SHORTCUT_OPTIONS.idleMs;
    const decision = chooseShortcutTeardowns(facts({ links: [
      link(1, 'c1', 'c2', { lastActiveAt: NOW - idle }),
      link(2, 'c1', 'c3', { lastActiveAt: NOW - idle + 1 }),
      link(3, 'c1', 'c4', { failed: 'unanswered' }),
      link(4, 'c1', 'c5', { kind: 'operator', lastActiveAt: T0, failed: 'unanswered', allowed: false }),
    ] }));
    expect(decision.remove.map((r) => [r.link.linkId, r.reason])).toEqual([[1, 'idle'], [3, 'failed']]);
    expect(decision.rePunch).toEqual([]);
  });

  it('takes a member\'s shortcuts when it is revoked, leaves, is turned off, or the pair is no longer allowed; a move re-punches', () => {
    const decision = chooseShortcutTeardowns(facts({
      members: members(member('c1'), member('c2', { state: 'revoked' }), member('c3', { state: 'left' }), member('c4', { shortcuts: false }), member('c5', { endpoint: 'c5:1' }), member('c6')),
      links: [link(1, 'c1', 'c2'), link(2, 'c1', 'c3'), link(3, 'c1', 'c4'), link(4, 'c1', 'c5'), link(5, 'c1', 'c6', { allowed: false }), link(6, 'c1', 'gone')],
    }));
    expect(decision.remove.map((r) => [r.link.linkId, r.reason])).toEqual([[1, 'member-revoked'], [2, 'member-left'], [3, 'disabled'], [5, 'not-allowed'], [6, 'member-left']]);
    expect(decision.rePunch.map((l) => l.linkId)).toEqual([4]);
  });
});

describe('the per-member cap', () => {
  it('removes the least active shortcut first to make room for a busier pair, and makes no candidate less active than what it has', () => {
    const kept = [link(1, 'c1', 'c2', { bitsPerSecond: 5_000_000 }), link(2, 'c1', 'c3', { bitsPerSecond: 1_000 })];
    const busy = { ends: ['c1', 'c4'] as const, bitsPerSecond: 2_000_000, why: 'rate 2 Mbit/s' };
    const slow = { ends: ['c1', 'c5'] as const, bitsPerSecond: 500, why: 'rate 500 bit/s' };
    const decision = applyShortcutCap(kept, [busy, slow], 2);
    expect(decision.create).toEqual([busy]);
    expect(decision.evict.map((l) => l.linkId)).toEqual([2]);
  });
});

// Random rounds: six members, any mix of states and links, any cap.
// Mostly members that take part, so that shortcuts pile up against the cap.
const mostly = (value: boolean) => fc.oneof({ arbitrary: fc.constant(value), weight: 6 }, { arbitrary: fc.constant(!value), weight: 1 });
const arbitraryMember = (name: string) => fc.record({
  name: fc.constant(name), shortcuts: mostly(true), runsClient: mostly(true),
  state: fc.oneof({ arbitrary: fc.constant('connected' as const), weight: 8 }, { arbitrary: fc.constantFrom('left' as const, 'revoked' as const), weight: 1 }),
  endpoint: fc.oneof({ arbitrary: fc.constant(`${name}:1`), weight: 6 }, { arbitrary: fc.constantFrom(`${name}:2`, null), weight: 1 }),
});
const arbitraryPairs = fc.uniqueArray(fc.tuple(fc.constantFrom(...NAMES), fc.constantFrom(...NAMES)).filter(([a, b]) => a !== b),
  { selector: ([a, b]) => pairKey([a, b]), minLength: 6, maxLength: 15 });
const arbitraryFacts = fc.record({
  mode: fc.oneof({ arbitrary: fc.constant('auto' as const), weight: 5 }, { arbitrary: fc.constant('off' as const), weight: 1 }),
  maxPerMember: fc.integer({ min: 1, max: 4 }),
  idleMs: fc.integer({ min: 1_000, max: 600_000 }),
  members: fc.tuple(...NAMES.map(arbitraryMember)),
  pairs: arbitraryPairs,
  linkKinds: fc.array(fc.record({
    kind: fc.constantFrom('operator' as const, 'shortcut' as const, 'shortcut' as const, null),
    // Idle for a share of --shortcut-idle: mostly under it, sometimes exactly it, sometimes beyond.
    idleFor: fc.oneof({ arbitrary: fc.double({ min: 0, max: 0.999, noNaN: true }), weight: 6 }, { arbitrary: fc.constantFrom(1, 1.5), weight: 1 }), bitsPerSecond: fc.integer({ min: 0, max: 5 }).map((n) => n * 1_000_000),
    failed: fc.oneof({ arbitrary: fc.constant(null), weight: 6 }, { arbitrary: fc.constantFrom(...SHORTCUT_FAILURE_REASONS), weight: 1 }), allowed: mostly(true), moved: fc.boolean(),
    busyMs: fc.integer({ min: 0, max: 5_000 }), pairAllowed: mostly(true), pairRate: fc.integer({ min: 0, max: 8 }).map((n) => n * 500_000),
  }), { minLength: 15, maxLength: 15 }),
}).map((f): ShortcutFacts => {
  const options: ShortcutOptions = { ...DEFAULT_SHORTCUT_OPTIONS, mode: f.mode, maxPerMember: f.maxPerMember, idleMs: f.idleMs };
  const links: ExistingLink[] = [];
  const pairs: PairObservation[] = [];
  f.pairs.forEach(([a, b], i) => {
    const shape = f.linkKinds[i]!;
    const endpoint = (name: string) => f.members.find((m) => m.name === name)?.endpoint ?? null;
    if (shape.kind !== null) {
      links.push({ linkId: i + 1, ends: [a, b], kind: shape.kind, lastActiveAt: NOW - Math.floor(shape.idleFor * f.idleMs), bitsPerSecond: shape.bitsPerSecond,
        endpoints: shape.moved ? ['elsewhere:1', endpoint(b)] : [endpoint(a), endpoint(b)], failed: shape.failed, allowed: shape.allowed });
    }
    pairs.push({ ends: [a, b], rate: busyFor(shape.pairRate, shape.busyMs), allowed: shape.pairAllowed, linked: shape.kind !== null });
  });
  return { options, now: NOW, members: new Map(f.members.map((m) => [m.name, m])), links, pairs };
});

/** Shortcuts per member once a plan is carried out. */
function shortcutsAfter(f: ShortcutFacts, plan: ReturnType<typeof planShortcuts>): Map<string, number> {
  const removed = new Set(plan.remove.map((r) => r.link.linkId));
  const count = new Map<string, number>();
  const ends = [...f.links.filter((l) => l.kind === 'shortcut' && !removed.has(l.linkId)).map((l) => l.ends), ...plan.create.map((c) => c.ends)];
  for (const [a, b] of ends) for (const name of [a, b]) count.set(name, (count.get(name) ?? 0) + 1);
  return count;
}

describe('(properties) one round of shortcut decisions', () => {
  it('never leaves a member above the cap, even when it starts above it', () => {
    fc.assert(fc.property(arbitraryFacts, (f) => {
      for (const [name, count] of shortcutsAfter(f, planShortcuts(f))) expect(count, name).toBeLessThanOrEqual(f.options.maxPerMember);
    }), { numRuns: 500 });
  });

  it('never removes, re-punches or counts an operator link, removes each shortcut once, and makes shortcuts only for unlinked pairs, once each', () => {
    fc.assert(fc.property(arbitraryFacts, (f) => {
      const plan = planShortcuts(f);
      const operator = new Set(f.links.filter((l) => l.kind === 'operator').map((l) => l.linkId));
      expect(plan.remove.filter((r) => operator.has(r.link.linkId))).toEqual([]);
      expect(plan.rePunch.filter((l) => operator.has(l.linkId))).toEqual([]);
      const removed = plan.remove.map((r) => r.link.linkId);
      expect(new Set(removed).size).toBe(removed.length);
      expect(plan.rePunch.filter((l) => removed.includes(l.linkId))).toEqual([]);
      const linked = new Set(f.links.map((l) => pairKey(l.ends)));
      const made = plan.create.map((c) => pairKey(c.ends));
      expect(made.filter((key) => linked.has(key))).toEqual([]);
      expect(new Set(made).size).toBe(made.length);
    }), { numRuns: 500 });
  });

  it('evicts or leaves out only what lost to at least as active shortcuts filling one of its ends', () => {
    fc.assert(fc.property(arbitraryFacts, (f) => {
      const plan = planShortcuts(f);
      const removedOtherwise = new Set(plan.remove.filter((r) => r.reason !== 'cap').map((r) => r.link.linkId));
      const kept = f.links.filter((l) => l.kind === 'shortcut' && !removedOtherwise.has(l.linkId));
      const candidates = findShortcutCandidates({ ...f, pairs: f.pairs.filter((p) => !p.linked) });
      const after = [...kept.filter((l) => !plan.remove.some((r) => r.link.linkId === l.linkId)), ...plan.create];
      const losers = [...plan.remove.filter((r) => r.reason === 'cap').map((r) => r.link), ...candidates.filter((c) => !plan.create.some((made) => pairKey(made.ends) === pairKey(c.ends)))];
      for (const loser of losers) {
        const full = loser.ends.some((name) => {
          const mine = after.filter((s) => s.ends.includes(name));
          return mine.length === f.options.maxPerMember && mine.every((s) => s.bitsPerSecond >= loser.bitsPerSecond);
        });
        expect(full, `${loser.ends.join('<->')} at ${loser.bitsPerSecond}`).toBe(true);
      }
    }), { numRuns: 500 });
  });

  it('with the hub\'s mode off makes nothing and removes every shortcut', () => {
    fc.assert(fc.property(arbitraryFacts, (f) => {
      const plan = planShortcuts({ ...f, options: { ...f.options, mode: 'off' } });
      expect(plan.create).toEqual([]);
      expect(plan.remove.map((r) => r.link.linkId).sort()).toEqual(f.links.filter((l) => l.kind === 'shortcut').map((l) => l.linkId).sort());
    }), { numRuns: 300 });
  });

  it('removes a healthy shortcut for idleness exactly when it has been idle for --shortcut-idle, and a failed one whatever its age', () => {
    fc.assert(fc.property(arbitraryFacts, (f) => {
      const { remove } = chooseShortcutTeardowns(f);
      for (const l of f.links.filter((x) => x.kind === 'shortcut')) {
        const healthy = l.ends.every((name) => {
          const m = f.members.get(name);
          return f.options.mode === 'auto' && m !== undefined && m.shortcuts && m.runsClient && m.state === 'connected';
        }) && l.allowed;
        if (!healthy) continue;
        const reason = remove.find((r) => r.link.linkId === l.linkId)?.reason;
        if (l.failed !== null) expect(reason).toBe('failed');
        else expect(reason === 'idle').toBe(NOW - l.lastActiveAt >= f.options.idleMs);
      }
    }), { numRuns: 500 });
  });

  it('makes no shortcut for a member that is off, a kernel router, not connected, or for a pair not allowed', () => {
    fc.assert(fc.property(arbitraryFacts, (f) => {
      for (const c of planShortcuts(f).create) {
        for (const name of c.ends) expect(f.members.get(name)).toMatchObject({ shortcuts: true, runsClient: true, state: 'connected' });
        expect(f.pairs.find((p) => pairKey(p.ends) === pairKey(c.ends))?.allowed).toBe(true);
        expect(c.bitsPerSecond).toBeGreaterThanOrEqual(f.options.threshold.bitsPerSecond);
      }
    }), { numRuns: 500 });
  });
});
