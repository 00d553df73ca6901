import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chooseEncapsulation, type EncapFacts, type ProbeResults } from '../../server/control/choose-encapsulation.js';
import { ENCAPSULATIONS } from '../../shared/net/encapsulation.js';

const LADDER = ['gre', 'fou', 'gue'] as const;
const address = fc.oneof(
  fc.constantFrom('203.0.113.10', '198.51.100.20', '192.168.77.2', '192.0.2.50'),
  fc.constantFrom('2001:db8:77::2', '2001:db8:113::10', '2001:db8:2::20'),
);
const probe = fc.option(fc.boolean(), { nil: undefined });
const probes: fc.Arbitrary<ProbeResults> = fc.record({ gre: probe, fou: probe, gue: probe }).map((p) => {
  const out: ProbeResults = {};
  for (const k of LADDER) if (p[k] !== undefined) out[k] = p[k];
  return out;
});
const facts: fc.Arbitrary<EncapFacts> = fc.record({
  pinned: fc.option(fc.constantFrom(...ENCAPSULATIONS), { nil: null }),
  seen: fc.option(address, { nil: null }),
  reported: fc.option(address, { nil: null }),
  probes,
});
const automatic = facts.map((f) => ({ ...f, pinned: null }));
const natted = (f: EncapFacts): boolean => f.seen !== null && f.reported !== null && f.seen !== f.reported;
const rung = (encap: string): number => LADDER.indexOf(encap as (typeof LADDER)[number]);

describe('chooseEncapsulation: properties of the ladder (IPv4 and IPv6 paths)', () => {
  it('a pin always wins, whatever else is known', () => {
    fc.assert(fc.property(facts, (f) => {
      if (f.pinned === null) return;
      expect(chooseEncapsulation(f)).toEqual({ encap: f.pinned, reason: 'pinned' });
    }));
  });

  it('an automatic choice is a rung of GRE -> FOU -> GUE, never GRE through a NAT, with a reason that fits its rung', () => {
    fc.assert(fc.property(automatic, (f) => {
      const { encap, reason } = chooseEncapsulation(f);
      expect(LADDER).toContain(encap);
      if (natted(f)) expect(encap).not.toBe('gre');
      const reasons = { gre: ['public'], fou: ['nat-detected', 'gre-probe-unanswered'], gue: ['fou-unanswered', 'ipv6-unanswered'] };
      expect(reasons[encap as keyof typeof reasons]).toContain(reason);
    }));
  });

  it('the first probe of the chosen rung: answered changes nothing; unanswered moves up the ladder, or past its end over IPv6 only', () => {
    fc.assert(fc.property(automatic, fc.boolean(), (f, answered) => {
      const before = chooseEncapsulation(f);
      fc.pre(f.probes[before.encap as keyof ProbeResults] === undefined);
      const after = chooseEncapsulation({ ...f, probes: { ...f.probes, [before.encap]: answered } });
      if (answered) {
        expect(after).toEqual(before);
        return;
      }
      if (before.encap === 'gue') {
        // Nothing above GUE on IPv4; over IPv6 the member is told to fall back to IPv4.
        expect(after.encap).toBe('gue');
        const ipv6 = f.seen !== null && f.seen.includes(':');
        expect(after.reason).toBe(ipv6 ? 'ipv6-unanswered' : before.reason);
        return;
      }
      expect(rung(after.encap)).toBeGreaterThan(rung(before.encap));
    }));
  });

  it('says ipv6-unanswered exactly when an IPv6 path ran out of rungs', () => {
    fc.assert(fc.property(automatic, (f) => {
      const exhausted = f.seen !== null && f.seen.includes(':') && f.probes.fou === false && f.probes.gue === false
        && (natted(f) || f.probes.gre === false);
      expect(chooseEncapsulation(f).reason === 'ipv6-unanswered').toBe(exhausted);
    }));
  });

  it('prefers GRE on a public IPv6 path, as on IPv4', () => {
    expect(chooseEncapsulation({ pinned: null, seen: '2001:db8:77::2', reported: '2001:db8:77::2', probes: {} })).toEqual({ encap: 'gre', reason: 'public' });
    expect(chooseEncapsulation({ pinned: null, seen: '2001:db8:77::2', reported: '2001:db8:77::2', probes: { gre: false, fou: false, gue: false } }))
      .toEqual({ encap: 'gue', reason: 'ipv6-unanswered' });
  });
});
