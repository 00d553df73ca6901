import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_APPROVED_ROUTES } from '../../server/registry/peer-routing-store.js';
import { ipPrefixesOverlap, parseIpPrefix } from '../../shared/net/ip-prefix.js';
import { isTunnelError } from '../../shared/errors.js';
import { contractBackends } from '../helpers/registry-backends.js';
import { expectRefusedUnchanged } from '../helpers/registry-fixture.js';

// The routing store's promises, on SQLite and on PostgreSQL alike.
describe.each(contractBackends())('prefixes behind members in the registry ($name)', (backend) => {
  if (backend.unavailable) {
    it.skip(`skipped: ${backend.unavailable}`, () => undefined);
    return;
  }

  async function withMembers(...names: string[]) {
    const registry = await backend.initialised({ pools: ['10.1.12.0/24'] });
    for (const name of names) await registry.peers.add({ name });
    return registry;
  }

  it('adds approved routes, approves requests, removes both, and lists them', async () => {
    const registry = await withMembers('c1', 'c2');
    expect(await registry.routing.add('c2', '10.50.2.0/24')).toMatchObject({ peer: 'c2', prefix: '10.50.2.0/24', state: 'approved', requestedAt: null });
    expect(await registry.routing.recordRequests('c1', ['10.50.1.0/24', '2001:db8:51::/64'])).toEqual([
      { prefix: '10.50.1.0/24', state: 'pending' }, { prefix: '2001:db8:51::/64', state: 'pending' },
    ]);
    expect(await registry.routing.approve('c1', '2001:DB8:51::/64')).toMatchObject({ state: 'approved', prefix: '2001:db8:51::/64' });
    expect((await registry.routing.list()).map((r) => `${r.peer} ${r.prefix} ${r.state}`)).toEqual([
      'c1 10.50.1.0/24 pending', 'c1 2001:db8:51::/64 approved', 'c2 10.50.2.0/24 approved',
    ]);
    expect(await registry.routing.facts()).toEqual({ pools: ['10.1.12.0/24'], approved: new Map([['c1', ['2001:db8:51::/64']], ['c2', ['10.50.2.0/24']]]) });
    expect(await registry.routing.memberRecord('c1')).toEqual({ sourceCheck: true, prefixes: [
      { prefix: '10.50.1.0/24', state: 'pending' }, { prefix: '2001:db8:51::/64', state: 'approved' },
    ] });
    // An operator's add of a pending prefix approves it.
    expect(await registry.routing.add('c1', '10.50.1.0/24')).toMatchObject({ state: 'approved' });
    expect(await registry.routing.remove('c2', '10.50.2.0/24')).toMatchObject({ state: 'approved' });
    expect(await registry.routing.listForPeer('c2')).toEqual([]);
    expect((await registry.audit.list()).map((entry) => entry.action).filter((a) => a.startsWith('route.'))).toEqual([
      'route.remove', 'route.add', 'route.approve', 'route.request', 'route.request', 'route.add',
    ]);
  });

  it('refuses, changing nothing: overlaps, malformed and non-unicast prefixes, duplicates, unknown requests and peers', async () => {
    const registry = await withMembers('c1', 'c2');
    await registry.routing.add('c2', '10.50.2.0/24');
    await registry.routing.recordRequests('c1', ['10.60.0.0/16']);
    await expectRefusedUnchanged(registry, 'ERR_ROUTE_OVERLAP', () => registry.routing.add('c1', '10.50.2.0/25'));
    await expectRefusedUnchanged(registry, 'ERR_ROUTE_OVERLAP', () => registry.routing.add('c1', '10.0.0.0/8'));
    await expectRefusedUnchanged(registry, 'ERR_ROUTE_OVERLAP', () => registry.routing.add('c1', '10.1.12.4/30'));
    await expectRefusedUnchanged(registry, 'ERR_INVALID_CIDR', () => registry.routing.add('c1', '10.50.3.1/24'));
    await expectRefusedUnchanged(registry, 'ERR_INVALID_CIDR', () => registry.routing.add('c1', 'fe80::/64'));
    await expectRefusedUnchanged(registry, 'ERR_INVALID_CIDR', () => registry.routing.approve('c1', 'ten'));
    await expectRefusedUnchanged(registry, 'ERR_ROUTE_EXISTS', () => registry.routing.add('c2', '10.50.2.0/24'));
    await expectRefusedUnchanged(registry, 'ERR_ROUTE_EXISTS', () => registry.routing.approve('c2', '10.50.2.0/24'));
    await expectRefusedUnchanged(registry, 'ERR_ROUTE_NOT_FOUND', () => registry.routing.approve('c1', '10.70.0.0/16'));
    await expectRefusedUnchanged(registry, 'ERR_ROUTE_NOT_FOUND', () => registry.routing.remove('c1', '10.70.0.0/16'));
    await expectRefusedUnchanged(registry, 'ERR_PEER_NOT_FOUND', () => registry.routing.add('c9', '10.70.0.0/16'));
    await expectRefusedUnchanged(registry, 'ERR_PEER_NOT_FOUND', () => registry.routing.setSourceCheck('c9', false));
    // A request approved later is checked again: c2 took an overlapping prefix meanwhile.
    await registry.routing.add('c2', '10.60.5.0/24');
    await expectRefusedUnchanged(registry, 'ERR_ROUTE_OVERLAP', () => registry.routing.approve('c1', '10.60.0.0/16'));
  });

  it('refuses an advertised prefix that overlaps, storing nothing for it, and withdraws pending ones no longer asked for', async () => {
    const registry = await withMembers('c1', 'c2');
    await registry.routing.add('c2', '10.50.2.0/24');
    const outcomes = await registry.routing.recordRequests('c1', ['10.50.2.0/26', '10.50.1.0/24']);
    expect(outcomes[0]).toMatchObject({ prefix: '10.50.2.0/26', state: 'refused', code: 'ERR_ROUTE_OVERLAP' });
    expect(outcomes[1]).toEqual({ prefix: '10.50.1.0/24', state: 'pending' });
    await registry.routing.add('c1', '10.50.5.0/24');
    expect(await registry.routing.recordRequests('c1', [])).toEqual([]);
    expect((await registry.routing.listForPeer('c1')).map((r) => `${r.prefix} ${r.state}`)).toEqual(['10.50.5.0/24 approved']);
  });

  it('refuses a new pool that overlaps a prefix routed behind a member, changing nothing', async () => {
    const registry = await withMembers('c2');
    await registry.routing.add('c2', '10.50.2.0/24');
    expect(await expectRefusedUnchanged(registry, 'ERR_POOL_OVERLAP', () => registry.pools.add('10.50.0.0/16'))).toMatch(/10\.50\.2\.0\/24, routed behind c2/);
    expect((await registry.pools.add('10.51.0.0/16')).cidr).toBe('10.51.0.0/16');
  });

  it('turns the source check off and on, saying whether it changed', async () => {
    const registry = await withMembers('c1');
    expect(await registry.routing.setSourceCheck('c1', false)).toBe(true);
    expect(await registry.routing.setSourceCheck('c1', false)).toBe(false);
    expect((await registry.routing.memberRecord('c1')).sourceCheck).toBe(false);
    expect(await registry.routing.setSourceCheck('c1', true)).toBe(true);
  });

  it('leaves a revoked member\'s prefixes out of the routing facts (but still in the way of others), and drops them with the member', async () => {
    const registry = await withMembers('c1', 'c2');
    await registry.routing.add('c2', '10.50.2.0/24');
    await registry.peers.revoke('c2');
    expect((await registry.routing.facts()).approved.size).toBe(0);
    await expectRefusedUnchanged(registry, 'ERR_ROUTE_OVERLAP', () => registry.routing.add('c1', '10.50.2.0/24'));
    await registry.peers.remove('c2');
    expect(await registry.routing.list()).toEqual([]);
    expect((await registry.routing.add('c1', '10.50.2.0/24')).state).toBe('approved');
  });

  it('holds at most MAX_APPROVED_ROUTES approved prefixes', async () => {
    const registry = await withMembers('c1');
    await registry.transaction(async (tx) => {
      for (let i = 0; i < MAX_APPROVED_ROUTES; i++) await tx.routing.add('c1', `10.${100 + (i >> 8)}.${i & 255}.0/24`);
    });
    await expectRefusedUnchanged(registry, 'ERR_ROUTE_LIMIT', () => registry.routing.add('c1', '10.200.0.0/24'));
  });

  it('whatever is asked, in any order, no two members ever own one address and none owns a pool\'s', async () => {
    const request = fc.record({
      op: fc.constantFrom('add', 'request', 'approve', 'remove'),
      peer: fc.constantFrom('c1', 'c2', 'c3'),
      // Networks in 10.1.0.0/20, around the pool 10.1.12.0/24: many overlap it or each other.
      prefix: fc.tuple(fc.integer({ min: 0, max: 0xfff }), fc.integer({ min: 20, max: 28 })).map(([host, length]) => {
        const network = host & (0xfff ^ ((1 << (32 - length)) - 1));
        return `10.1.${network >> 8}.${network & 255}/${length}`;
      }),
    });
    await fc.assert(fc.asyncProperty(fc.array(request, { maxLength: 25 }), async (requests) => {
      // A fresh registry per run; the backend closes them all after the test.
      const registry = await withMembers('c1', 'c2', 'c3');
      for (const { op, peer, prefix } of requests) {
        const before = await registry.exportTables();
        try {
          if (op === 'add') await registry.routing.add(peer, prefix);
          else if (op === 'request') await registry.routing.recordRequests(peer, [prefix]);
          else if (op === 'approve') await registry.routing.approve(peer, prefix);
          else await registry.routing.remove(peer, prefix);
        } catch (err) {
          expect(isTunnelError(err)).toBe(true);
          expect(await registry.exportTables()).toEqual(before);
        }
      }
      const approved = (await registry.routing.list()).filter((r) => r.state === 'approved');
      for (const a of approved) {
        expect(ipPrefixesOverlap(parseIpPrefix(a.prefix), parseIpPrefix('10.1.12.0/24'))).toBe(false);
        for (const b of approved) {
          if (a.peer !== b.peer) expect(ipPrefixesOverlap(parseIpPrefix(a.prefix), parseIpPrefix(b.prefix))).toBe(false);
        }
      }
    }), { numRuns: backend.name === 'sqlite' ? 60 : 15 });
  });
});
