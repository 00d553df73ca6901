import { describe, expect, it } from 'vitest';
import { chooseEncapsulation, type EncapFacts } from '../../server/control/choose-encapsulation.js';
import { behindNat, buildPeerLinkEnd, choosePeerLinkPath } from '../../server/control/peer-link-specs.js';
import { buildLinkTable } from '../../server/registry/link-table.js';

const PUBLIC = '203.0.113.10';
const PRIVATE = '192.168.77.2';
const NAT_OUTSIDE = '198.51.100.20';

function facts(overrides: Partial<EncapFacts>): EncapFacts {
  return { pinned: null, seen: PUBLIC, reported: PUBLIC, probes: {}, ...overrides };
}

describe('chooseEncapsulation: GRE -> FOU -> GUE', () => {
  it.each([
    ['public, not probed yet', facts({}), 'gre', 'public'],
    ['public, GRE probe answered', facts({ probes: { gre: true } }), 'gre', 'public'],
    ['public, GRE probe unanswered', facts({ probes: { gre: false } }), 'fou', 'gre-probe-unanswered'],
    ['public, GRE and FOU unanswered', facts({ probes: { gre: false, fou: false } }), 'gue', 'fou-unanswered'],
    ['reported address unknown: nothing says NAT', facts({ reported: null }), 'gre', 'public'],
    ['behind NAT', facts({ seen: NAT_OUTSIDE, reported: PRIVATE }), 'fou', 'nat-detected'],
    ['behind NAT, even with a GRE probe answered', facts({ seen: NAT_OUTSIDE, reported: PRIVATE, probes: { gre: true } }), 'fou', 'nat-detected'],
    ['behind NAT, FOU unanswered', facts({ seen: NAT_OUTSIDE, reported: PRIVATE, probes: { fou: false } }), 'gue', 'fou-unanswered'],
    ['pinned GUE beats a public path', facts({ pinned: 'gue' }), 'gue', 'pinned'],
    ['pinned GRE beats a NAT', facts({ pinned: 'gre', seen: NAT_OUTSIDE, reported: PRIVATE }), 'gre', 'pinned'],
    ['pinned FOU beats unanswered probes', facts({ pinned: 'fou', probes: { gre: false, fou: false } }), 'fou', 'pinned'],
  ] as const)('%s -> %s (%s)', (_name, input, encap, reason) => {
    expect(chooseEncapsulation(input)).toEqual({ encap, reason });
  });
});

describe('peer<->peer paths', () => {
  const publicEnd = { name: 'c1', seen: PUBLIC, reported: PUBLIC };
  const nattedEnd = { name: 'c2', seen: NAT_OUTSIDE, reported: PRIVATE };
  const otherNatted = { name: 'c3', seen: '192.0.2.50', reported: '10.0.0.5' };

  it('chooses GRE between public ends, FOU with one end behind NAT, and no tunnel with both', async () => {
    expect(choosePeerLinkPath(null, publicEnd, { ...publicEnd, name: 'c4', seen: '192.0.2.9', reported: '192.0.2.9' }))
      .toEqual({ encap: 'gre', reason: 'public', reachable: true });
    expect(choosePeerLinkPath(null, publicEnd, nattedEnd)).toEqual({ encap: 'fou', reason: 'nat-detected', reachable: true });
    expect(choosePeerLinkPath(null, nattedEnd, publicEnd)).toEqual({ encap: 'fou', reason: 'nat-detected', reachable: true });
    expect(choosePeerLinkPath(null, nattedEnd, otherNatted)).toEqual({ encap: 'fou', reason: 'both-ends-behind-nat', reachable: false });
    expect(choosePeerLinkPath('gue', nattedEnd, otherNatted).reachable).toBe(false);
    expect(choosePeerLinkPath('gue', publicEnd, nattedEnd)).toEqual({ encap: 'gue', reason: 'pinned', reachable: true });
    expect(choosePeerLinkPath(null, publicEnd, { name: 'c5', seen: null, reported: null }))
      .toEqual({ encap: 'gre', reason: 'endpoint-unknown', reachable: false });
    expect(behindNat(nattedEnd)).toBe(true);
    expect(behindNat(publicEnd)).toBe(false);
  });

  it('builds mirrored ends: each aims at the other seen address, the NATed end says hello, the public end binds', async () => {
    const table = buildLinkTable({
      network: (10 << 24 | 1 << 16 | 12 << 8 | 40) >>> 0, greKey: 7, decidedEncap: 'fou',
      ends: [{ name: 'c1', public: PUBLIC, pinnedEncap: null }, { name: 'c2', public: NAT_OUTSIDE, pinnedEncap: null }],
    });
    const choice = choosePeerLinkPath(null, publicEnd, nattedEnd);
    const binding = { bindingId: 9, key: 'k'.repeat(43) };
    const atC1 = buildPeerLinkEnd(table, publicEnd, nattedEnd, choice, 5, binding);
    const atC2 = buildPeerLinkEnd(table, nattedEnd, publicEnd, choice, 5, binding);
    expect(atC1.spec).toMatchObject({ name: 'tnl-c2', encap: 'fou', local: PUBLIC, remote: NAT_OUTSIDE, address: '10.1.12.41/30', peerAddress: '10.1.12.42', auth: { role: 'hub', bindingId: 9 } });
    expect(atC2.spec).toMatchObject({ name: 'tnl-c1', encap: 'fou', local: PRIVATE, remote: PUBLIC, address: '10.1.12.42/30', peerAddress: '10.1.12.41', auth: { role: 'member', bindingId: 9 } });
    expect(atC1.spec?.key).toBeUndefined();
    expect(atC1.path).toEqual({ tunnel: 'tnl-c2', encap: 'fou', reason: 'nat-detected', reachable: true });
  });

  it('a fou link pinned between two public ends has exactly one end saying hello: the first', async () => {
    const table = buildLinkTable({
      network: (10 << 24 | 1 << 16 | 12 << 8 | 48) >>> 0, greKey: 10,
      ends: [{ name: 'c1', public: PUBLIC, pinnedEncap: 'fou' }, { name: 'c4', public: '192.0.2.9', pinnedEncap: null }],
    });
    const other = { name: 'c4', seen: '192.0.2.9', reported: '192.0.2.9' };
    const choice = choosePeerLinkPath('fou', publicEnd, other);
    const binding = { bindingId: 11, key: 'k'.repeat(43) };
    expect(buildPeerLinkEnd(table, publicEnd, other, choice, 5, binding).spec?.auth?.role).toBe('member');
    expect(buildPeerLinkEnd(table, other, publicEnd, choice, 5, binding).spec?.auth?.role).toBe('hub');
  });

  it('issues no tunnel for an unreachable link but still shows its table and why', async () => {
    const table = buildLinkTable({
      network: (10 << 24 | 1 << 16 | 12 << 8 | 44) >>> 0, greKey: 8,
      ends: [{ name: 'c2', public: NAT_OUTSIDE, pinnedEncap: null }, { name: 'c3', public: otherNatted.seen, pinnedEncap: null }],
    });
    const choice = choosePeerLinkPath(null, nattedEnd, otherNatted);
    const end = buildPeerLinkEnd(table, nattedEnd, otherNatted, choice, 5);
    expect(end.spec).toBeUndefined();
    expect(end.path).toEqual({ tunnel: 'tnl-c3', encap: 'gre', reason: 'both-ends-behind-nat', reachable: false });
    expect(end.table.ends.map((e) => e.public)).toEqual([NAT_OUTSIDE, otherNatted.seen]);
  });
});
