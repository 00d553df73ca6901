import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatIpPrefix, ipPrefixesOverlap, parseIpPrefix, type IpPrefix } from '../../shared/net/ip-prefix.js';
import {
  DIRECT_ROUTE_METRIC, HUB_ROUTE_METRIC, hubTunnelRoutes, hubUnreachableRoutes, memberRoutes, memberSources, type RoutingFacts,
} from '../../server/routing/member-routes.js';
import { anyIpPrefix, anyIpv4Prefix } from '../fixtures/ip-prefix-arbitraries.js';

const MEMBERS = ['c1', 'c2', 'c3', 'c4'];

/**
 * Facts as the registry keeps them: pools never overlap, and no approved prefix overlaps a pool or
 * another member's prefix (a member's own prefixes may nest). Candidates that would break that are
 * dropped, as the registry refuses them.
 */
const consistentFacts: fc.Arbitrary<RoutingFacts> = fc.tuple(
  fc.array(anyIpv4Prefix.filter((p) => p.length >= 8), { maxLength: 4 }),
  fc.array(fc.tuple(fc.constantFrom(...MEMBERS), anyIpPrefix.filter((p) => p.length >= 4)), { maxLength: 14 }),
).map(([poolCandidates, routeCandidates]) => {
  const pools: IpPrefix[] = [];
  for (const pool of poolCandidates) if (!pools.some((p) => ipPrefixesOverlap(p, pool))) pools.push(pool);
  const owned: { member: string; prefix: IpPrefix }[] = [];
  for (const [member, prefix] of routeCandidates) {
    const clash = pools.some((p) => ipPrefixesOverlap(p, prefix))
      || owned.some((o) => o.member !== member && ipPrefixesOverlap(o.prefix, prefix))
      || owned.some((o) => o.member === member && formatIpPrefix(o.prefix) === formatIpPrefix(prefix));
    if (!clash) owned.push({ member, prefix });
  }
  const approved = new Map<string, string[]>();
  for (const { member, prefix } of owned) approved.set(member, [...(approved.get(member) ?? []), formatIpPrefix(prefix)]);
  return { pools: pools.map(formatIpPrefix), approved };
});

const hubSet = (facts: RoutingFacts, member: string, linked: string[] = []): string[] =>
  memberRoutes(facts, member, linked).find((r) => r.tunnel === 'tnl-hub')!.prefixes as string[];

describe('route sets of members (pools plus approved prefixes, minus the member\'s own)', () => {
  it('every member reaches every pool and every other member\'s prefixes through its hub tunnel', () => {
    fc.assert(fc.property(consistentFacts, fc.constantFrom(...MEMBERS), (facts, member) => {
      const routes = new Set(hubSet(facts, member));
      for (const pool of facts.pools) expect(routes.has(pool)).toBe(true);
      for (const [other, prefixes] of facts.approved) {
        if (other !== member) for (const prefix of prefixes) expect(routes.has(prefix)).toBe(true);
      }
      // Nothing else: every route is a pool or someone else's prefix.
      const known = new Set([...facts.pools, ...[...facts.approved].filter(([o]) => o !== member).flatMap(([, p]) => p)]);
      for (const route of routes) expect(known.has(route)).toBe(true);
    }));
  });

  it('never routes a member\'s own prefixes (nor anything overlapping them) back to the hub', () => {
    fc.assert(fc.property(consistentFacts, fc.constantFrom(...MEMBERS), (facts, member) => {
      const own = (facts.approved.get(member) ?? []).map(parseIpPrefix);
      for (const route of hubSet(facts, member)) {
        expect(own.some((p) => ipPrefixesOverlap(p, parseIpPrefix(route)))).toBe(false);
      }
    }));
  });

  it('a direct link carries the linked member\'s prefixes at a metric that wins over the hub\'s', () => {
    fc.assert(fc.property(consistentFacts, fc.constantFrom(...MEMBERS), fc.subarray(MEMBERS), (facts, member, linkedAll) => {
      const linked = linkedAll.filter((m) => m !== member);
      const routes = memberRoutes(facts, member, linked);
      const hub = routes.find((r) => r.tunnel === 'tnl-hub')!;
      expect(hub.metric).toBe(HUB_ROUTE_METRIC);
      expect(routes).toHaveLength(linked.length + 1);
      for (const other of linked) {
        const direct = routes.find((r) => r.tunnel === `tnl-${other}`)!;
        expect(direct.metric).toBe(DIRECT_ROUTE_METRIC);
        expect(direct.metric).toBeLessThan(hub.metric);
        expect([...direct.prefixes].sort()).toEqual([...(facts.approved.get(other) ?? [])].sort());
        for (const prefix of direct.prefixes) expect(hub.prefixes).toContain(prefix);
      }
    }));
  });

  it('is sorted, has no repeats, and does not depend on the order facts come in', () => {
    fc.assert(fc.property(consistentFacts, fc.constantFrom(...MEMBERS), (facts, member) => {
      const routes = hubSet(facts, member);
      expect(routes).toEqual([...new Set(routes)].sort());
      const reversed: RoutingFacts = { pools: [...facts.pools].reverse(), approved: new Map([...facts.approved].reverse()) };
      expect(memberRoutes(reversed, member, [])).toEqual(memberRoutes(facts, member, []));
    }));
  });
});

describe('the hub\'s side', () => {
  it('routes a member\'s prefixes and peer-link addresses through its tunnel, and accepts exactly those sources plus its own addresses', () => {
    const facts: RoutingFacts = { pools: ['10.1.12.0/24'], approved: new Map([['c2', ['10.50.2.0/24', '2001:db8:52::/64']], ['c1', ['10.50.1.0/24']]]) };
    expect(hubTunnelRoutes(facts, 'c2', ['10.1.12.10'])).toEqual(['10.1.12.10/32', '10.50.2.0/24', '2001:db8:52::/64']);
    expect(memberSources(facts, 'c2', ['10.1.12.6', '10.1.12.10'])).toEqual(['10.1.12.10/32', '10.1.12.6/32', '10.50.2.0/24', '2001:db8:52::/64']);
    expect(memberSources(facts, 'c3', ['10.1.12.14'])).toEqual(['10.1.12.14/32']);
    expect(hubUnreachableRoutes(facts)).toEqual(['10.1.12.0/24', '10.50.1.0/24', '10.50.2.0/24', '2001:db8:52::/64']);
  });

  it('a member\'s sources never cover another member\'s prefixes', () => {
    fc.assert(fc.property(consistentFacts, fc.constantFrom(...MEMBERS), (facts, member) => {
      const sources = memberSources(facts, member, []).map(parseIpPrefix);
      for (const [other, prefixes] of facts.approved) {
        if (other === member) continue;
        for (const prefix of prefixes) expect(sources.some((s) => ipPrefixesOverlap(s, parseIpPrefix(prefix)))).toBe(false);
      }
    }));
  });
});
