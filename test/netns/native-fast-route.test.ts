import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { internetChecksum } from '../../shared/wire/checksum.js';
import { createPairTopology, execIn, startNodeIn, type PairTopology } from '../helpers/netns.js';
import { netnsUnavailableReason } from '../helpers/root.js';
import { ipv4Packet, ipv6Packet } from '../helpers/test-packets.js';
import { testScript } from '../helpers/test-scripts.js';
import type { FastRouteHostReport } from '../scripts/fast-route-host.js';
import type { FastRoutePeerReport } from '../scripts/fast-route-peer.js';

const reason = netnsUnavailableReason();
if (reason) console.warn(`SKIPPED native fast route tests: ${reason}`);

const KEY = 9;

function greWithKey(key: number, inner: Buffer): string {
  const header = Buffer.from([0x20, 0, inner[0]! >> 4 === 6 ? 0x86 : 0x08, inner[0]! >> 4 === 6 ? 0xdd : 0, 0, 0, 0, 0]);
  header.writeUInt32BE(key, 4);
  return Buffer.concat([header, inner]).toString('hex');
}

/** An ICMPv6 packet from `source` (32 hex digits) to ff02::1. */
function ipv6From(source: string): Buffer {
  const packet = ipv6Packet(64);
  Buffer.from(source, 'hex').copy(packet, 8);
  Buffer.from('ff020000000000000000000000000001', 'hex').copy(packet, 24);
  return packet;
}

function echoRequest(src: string, dst: string): Buffer {
  const icmp = Buffer.alloc(16);
  icmp[0] = 8;
  icmp.writeUInt16BE(0x4242, 4);
  icmp.writeUInt16BE(1, 6);
  icmp.writeUInt16BE(internetChecksum(icmp, 0, icmp.length), 2);
  return ipv4Packet({ src, dst, protocol: 1, payload: icmp });
}

describe.skipIf(reason)('native fast route (netns)', () => {
  let pair: PairTopology;

  beforeAll(() => {
    pair = createPairTopology();
  });

  afterAll(() => {
    pair?.destroy();
  });

  it('forwards matching packets both ways without JS and leaves the rest to the JS readers', async () => {
    // A's route runs 5 s and B listens 3.5 s: windows that catch any packet the route should not have taken.
    const route = startNodeIn(pair.a, testScript('fast-route-host'), [String(KEY), '5000', 'null']);
    await route.ready;
    const peerRun = startNodeIn(pair.b, testScript('fast-route-peer'), ['3500',
      greWithKey(KEY, echoRequest('10.82.0.2', '10.82.0.1')), // taken: A's kernel answers through the route
      greWithKey(KEY + 1, echoRequest('10.82.0.2', '10.82.0.1')), // another key: JS
      greWithKey(KEY, ipv4Packet({ src: '192.0.2.2', dst: '192.0.2.1', protocol: 47, length: 40 })), // GRE in GRE (a keepalive?): JS
    ]);
    await peerRun.ready;
    // TUN -> route: small pings go out natively; DF pings above the route's MTU go to JS.
    execIn(pair.a, 'sh', ['-c', 'ping -c 3 -i 0.2 -W 1 10.82.0.2 >/dev/null 2>&1; ping -c 2 -i 0.2 -W 1 -M do -s 1450 10.82.0.2 >/dev/null 2>&1; true']);
    const peer = await peerRun.result as FastRoutePeerReport;
    const result = await route.result as FastRouteHostReport;

    expect(peer.sent).toBe(3);
    // A's echo reply came back natively, with the route's key-9 header in front.
    expect(peer.received).toContainEqual({ flags: 0x2000, key: KEY, innerProtocol: 1, icmpType: 0 });
    // B's echo request and A's three small pings' requests came out with the same header.
    expect(peer.received.filter((p) => p.key === KEY && p.icmpType === 8).length).toBe(3);
    expect(result.counters.rxPackets).toBe(1);
    // The 4 above, plus whatever the kernel itself sends on a new link (IPv6 MLD, for one).
    expect(result.counters.txPackets).toBeGreaterThanOrEqual(4);
    expect(result.counters.rxErrors + result.counters.txErrors).toBe(0);
    expect(result.counters.msSinceReceive).not.toBeNull();
    // What the route left alone reached JS: the oversized DF pings, the other key, GRE in GRE.
    expect(result.seen.tun.filter((p) => p.length === 1478 && p.df)).toHaveLength(2);
    expect(result.seen.tun.filter((p) => p.length <= 1400 && p.protocol === 1)).toHaveLength(0);
    expect(result.seen.raw).toEqual(expect.arrayContaining([
      expect.objectContaining({ key: KEY + 1, innerProtocol: 1 }), expect.objectContaining({ key: KEY, innerProtocol: 47 }),
    ]));
    expect(result.seen.raw.filter((p) => p.key === KEY && p.innerProtocol === 1)).toHaveLength(0);
    expect(result.dropped.unreadForwarded).toBe(0);
    expect(result.badHeader).toBe('ERR_INVALID_ARGUMENT');
    expect(result.closedTun).toBe('ERR_CLOSED');
  });

  it('with sources, takes only packets from them (and IPv6 link-local ones) and leaves the rest to JS', async () => {
    // 10.82.0.2/32 and 2001:db8:5::/48; everything else is for JS to count as spoofed.
    const sources = JSON.stringify({ v4: [(10 << 24 | 82 << 16 | 2) >>> 0, 0xffffffff], v6: `20010db8000500000000000000000000${'ff'.repeat(6)}${'00'.repeat(10)}` });
    const route = startNodeIn(pair.a, testScript('fast-route-host'), [String(KEY), '3000', sources]);
    await route.ready;
    const peerRun = startNodeIn(pair.b, testScript('fast-route-peer'), ['2000',
      greWithKey(KEY, echoRequest('10.82.0.2', '10.82.0.1')), // its own address: taken
      greWithKey(KEY, echoRequest('10.82.0.99', '10.82.0.1')), // beside it on the /30: JS
      greWithKey(KEY, echoRequest('10.50.2.10', '10.82.0.1')), // outside everything: JS
      greWithKey(KEY, ipv6From('fe800000000000000000000000000002')), // link-local: taken
      greWithKey(KEY, ipv6From('20010db8000500000000000000000009')), // inside 2001:db8:5::/48: taken
      greWithKey(KEY, ipv6From('20010db8000600000000000000000009')), // outside: JS
    ]);
    await peerRun.ready;
    expect((await peerRun.result as FastRoutePeerReport).sent).toBe(6);
    const result = await route.result as FastRouteHostReport;
    expect(result.counters.rxPackets).toBe(3);
    expect(result.seen.raw.map((p) => p.source).sort()).toEqual(['10.50.2.10', '10.82.0.99', '20010db8000600000000000000000009']);
  });
});
