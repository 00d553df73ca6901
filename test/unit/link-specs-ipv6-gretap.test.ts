import { describe, expect, it } from 'vitest';
import { buildHubLinkSpecs } from '../../server/control/hub-link-specs.js';
import { buildPeerLinkEnd, choosePeerLinkPath } from '../../server/control/peer-link-specs.js';
import { buildLinkTable } from '../../server/registry/link-table.js';
import { deriveTapMac } from '../../shared/net/tap-mac-address.js';
import { tunnelSpecSchema } from '../../shared/protocol/tunnel-spec-schema.js';

const HUB4 = '198.51.100.1';
const HUB6 = '2001:db8:100::1';
const C2_V6 = '2001:db8:77::2';
const network = (10 << 24 | 1 << 16 | 13 << 8) >>> 0;

const table = (encap: 'gre' | 'fou' | 'gretap', a = 'hub', b = 'c2', publicB: string | null = C2_V6) => buildLinkTable({
  network, greKey: 7, decidedEncap: encap,
  ends: [{ name: a, public: HUB6, pinnedEncap: null }, { name: b, public: publicB, pinnedEncap: null }],
});

describe('hub link specs over IPv6', () => {
  it('run both ends over IPv6 with an MTU 20 bytes below the IPv4 table, and pass the wire schema', () => {
    const specs = buildHubLinkSpecs('c2', table('gre'), { hub: HUB6, hubId: 'SHA256:hub', seen: C2_V6, reported: C2_V6 });
    expect(specs.hubEnd).toMatchObject({ encap: 'gre', key: 7, local: HUB6, remote: C2_V6, mtu: 1452 });
    expect(specs.peerEnd).toMatchObject({ local: C2_V6, remote: HUB6, mtu: 1452 });
    expect(specs.table).toMatchObject({ mtu: 1452, ends: [{ public: HUB6 }, { public: C2_V6 }] });
    expect(tunnelSpecSchema.safeParse(specs.hubEnd).success).toBe(true);
    expect(tunnelSpecSchema.safeParse(specs.peerEnd).success).toBe(true);
  });

  it('never takes a reported address of the other family as the member\'s local one', () => {
    const specs = buildHubLinkSpecs('c2', table('gre'), { hub: HUB6, seen: C2_V6, reported: '192.168.77.2' });
    expect(specs.peerEnd.local).toBe(C2_V6);
    const v4 = buildHubLinkSpecs('c2', table('fou'), { hub: HUB4, seen: '192.0.2.20', reported: '192.168.77.2' });
    expect(v4.peerEnd).toMatchObject({ local: '192.168.77.2', mtu: 1468 });
  });

  it('gives a gretap link\'s two TAPs MACs derived from the hub id and the peer, the same every time', () => {
    const first = buildHubLinkSpecs('c2', table('gretap'), { hub: HUB4, hubId: 'SHA256:hub', seen: '203.0.113.10', reported: '203.0.113.10' });
    const again = buildHubLinkSpecs('c2', table('gretap'), { hub: HUB4, hubId: 'SHA256:hub', seen: '203.0.113.11', reported: '203.0.113.11' });
    expect(first.hubEnd.mac).toBe(deriveTapMac('SHA256:hub c2 hub end'));
    expect(first.peerEnd.mac).toBe(deriveTapMac('SHA256:hub c2 member end'));
    expect(first.hubEnd.mac).not.toBe(first.peerEnd.mac);
    expect([again.hubEnd.mac, again.peerEnd.mac]).toEqual([first.hubEnd.mac, first.peerEnd.mac]);
    expect(first.hubEnd).toMatchObject({ encap: 'gretap', key: 7, mtu: 1458 });
    expect(buildHubLinkSpecs('c2', table('gre'), { hub: HUB4, hubId: 'SHA256:hub', seen: '203.0.113.10', reported: null }).hubEnd.mac).toBeUndefined();
  });
});

describe('peer<->peer links and the outer family', () => {
  const c1 = { name: 'c1', seen: '2001:db8:113::10', reported: '2001:db8:113::10' };
  const c2 = { name: 'c2', seen: C2_V6, reported: C2_V6 };

  it('links two IPv6 ends over IPv6 (GRE, 20 bytes less MTU) and refuses ends of two families', () => {
    expect(choosePeerLinkPath(null, c1, c2)).toEqual({ encap: 'gre', reason: 'public', reachable: true });
    expect(choosePeerLinkPath(null, c1, { name: 'c3', seen: '203.0.113.30', reported: '203.0.113.30' }))
      .toEqual({ encap: 'gre', reason: 'address-families-differ', reachable: false });
    const t = buildLinkTable({ network: network + 8, greKey: 9, ends: [{ name: 'c1', public: c1.seen, pinnedEncap: 'gretap' }, { name: 'c2', public: C2_V6, pinnedEncap: null }] });
    const end = buildPeerLinkEnd(t, c1, c2, choosePeerLinkPath('gretap', c1, c2), 5, undefined, 'SHA256:hub');
    expect(end.spec).toMatchObject({ encap: 'gretap', local: c1.seen, remote: C2_V6, mtu: 1438, mac: deriveTapMac('SHA256:hub c1 to c2') });
    expect(tunnelSpecSchema.safeParse(end.spec).success).toBe(true);
  });
});
