import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkRoutePrefix, type RouteClaims } from '../../server/routing/route-conflict.js';
import { errorCodeOf } from '../helpers/error-code.js';

/** Networks inside 10.0.0.0/24, so an oracle can enumerate their addresses. */
const smallPrefix = fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 24, max: 32 }))
  .map(([host, length]) => `10.0.0.${host & (0xff ^ ((1 << (32 - length)) - 1))}/${length}`);

function addresses(prefix: string): Set<number> {
  const [address, length] = prefix.split('/') as [string, string];
  const first = Number(address.split('.')[3]);
  return new Set(Array.from({ length: 2 ** (32 - Number(length)) }, (_, i) => first + i));
}

function shares(a: string, b: string): boolean {
  const inB = addresses(b);
  return [...addresses(a)].some((n) => inB.has(n));
}

const claims: fc.Arbitrary<RouteClaims> = fc.record({
  pools: fc.array(smallPrefix, { maxLength: 2 }),
  approved: fc.array(fc.record({ peer: fc.constantFrom('c1', 'c2', 'c3'), prefix: smallPrefix }), { maxLength: 6 }),
});

describe('refusing prefixes that overlap (against an oracle that enumerates addresses)', () => {
  it('refuses exactly the prefixes sharing an address with a pool or with another member\'s prefix', () => {
    fc.assert(fc.property(claims, fc.constantFrom('c1', 'c2', 'c3'), smallPrefix, (existing, owner, candidate) => {
      const clash = existing.pools.some((pool) => shares(pool, candidate))
        || existing.approved.some((route) => route.peer !== owner && shares(route.prefix, candidate));
      expect(errorCodeOf(() => checkRoutePrefix(candidate, owner, existing))).toBe(clash ? 'ERR_ROUTE_OVERLAP' : undefined);
    }));
  });

  it('never lets two members own one address: accepted prefixes added one by one stay disjoint across members', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.constantFrom('c1', 'c2', 'c3'), smallPrefix), { maxLength: 20 }), (requests) => {
      const state: RouteClaims = { pools: ['10.0.0.0/28'], approved: [] };
      for (const [peer, prefix] of requests) {
        if (errorCodeOf(() => checkRoutePrefix(prefix, peer, state)) === undefined) (state.approved as { peer: string; prefix: string }[]).push({ peer, prefix });
      }
      for (const a of state.approved) {
        expect(shares(a.prefix, '10.0.0.0/28')).toBe(false);
        for (const b of state.approved) if (a.peer !== b.peer) expect(shares(a.prefix, b.prefix)).toBe(false);
      }
    }));
  });

  it('answers with the canonical spelling, and refuses malformed or non-unicast prefixes as ERR_INVALID_CIDR', () => {
    const none: RouteClaims = { pools: [], approved: [] };
    expect(checkRoutePrefix('2001:DB8:52:0::/64', 'c2', none)).toBe('2001:db8:52::/64');
    expect(checkRoutePrefix('::/0', 'c2', none)).toBe('::/0');
    for (const bad of ['10.50.2.1/24', '10.50.2.0/33', 'lan', '224.0.0.0/8', '127.0.0.0/16', 'fe80::/64', 'ff02::/16', '169.254.1.0/24']) {
      expect(errorCodeOf(() => checkRoutePrefix(bad, 'c2', none))).toBe('ERR_INVALID_CIDR');
    }
  });

  it('lets a member\'s own prefixes nest, and says whose prefix is in the way', () => {
    const existing: RouteClaims = { pools: ['10.1.12.0/24'], approved: [{ peer: 'c2', prefix: '10.50.0.0/16' }] };
    expect(checkRoutePrefix('10.50.2.0/24', 'c2', existing)).toBe('10.50.2.0/24');
    expect(() => checkRoutePrefix('10.50.2.0/24', 'c1', existing)).toThrow(/overlaps 10\.50\.0\.0\/16, routed behind c2/);
    expect(() => checkRoutePrefix('10.1.0.0/16', 'c1', existing)).toThrow(/overlaps the hub's pool 10\.1\.12\.0\/24/);
  });
});
