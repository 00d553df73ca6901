import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { internetChecksum } from '../../shared/wire/checksum.js';
import { createPairTopology, distUrl, execIn, startNodeIn, type PairTopology } from '../helpers/netns.js';
import { netnsUnavailableReason } from '../helpers/root.js';
import { ipv4Packet, ipv6Packet } from '../helpers/test-packets.js';

const reason = netnsUnavailableReason();
if (reason) console.warn(`SKIPPED native fast route tests: ${reason}`);

const nativeUrl = distUrl('native/index.js');
const KEY = 9;

// A: TUN fr0 (10.82.0.1, peer .2) and a raw GRE socket joined by a fast route with key-9 GRE
// templates and MTU 1400. JS readers on both record what the route left to them. Runs for
// argv[1] ms, then reports the route's counters, what JS saw, and how a closed TUN is refused.
const routeScript = `
import { createFastRoute, createPacketBatch, openRawSocket, openTun } from '${nativeUrl}';
import { applyKernelChange } from '${distUrl('shared/system/apply-kernel-change.js')}';
const key = ${KEY};
const gre = (type) => Uint8Array.from([0x20, 0, type >> 8, type & 255, 0, 0, 0, key]);
const tun = openTun('fr0');
applyKernelChange({ kind: 'add-address', link: 'fr0', cidr: '10.82.0.1/30', peer: '10.82.0.2' });
applyKernelChange({ kind: 'set-up', link: 'fr0', up: true });
const raw = openRawSocket(47, '192.0.2.1');
const route = createFastRoute();
const sources = process.argv[2] ? JSON.parse(process.argv[2]) : null;
const config = {
  tun, outer: raw, transmit: true, receive: true, remoteAddress: (192 << 24 | 2 << 8 | 2) >>> 0, remotePort: 0,
  header4: gre(0x0800), header6: gre(0x86dd), mtu: 1400, clampMss: false, quietLimitMs: 0,
  sources: sources && { v4: Uint32Array.from(sources.v4), v6: Uint8Array.from(Buffer.from(sources.v6, 'hex')) },
};
route.configure(config);
const seen = { tun: [], raw: [] };
const batch = createPacketBatch(64, 2048);
tun.onReadable(() => {
  for (let n; (n = tun.readBatch(batch, 64)) > 0;) {
    for (let i = 0; i < n; i++) {
      const p = batch.data.subarray(i * 2048 + batch.offsets[i]);
      seen.tun.push({ length: batch.lengths[i], df: (p[6] & 0x40) !== 0, protocol: p[9] });
    }
  }
});
raw.onReadable(() => {
  for (let n; (n = raw.readBatch(batch, 0)) > 0;) {
    for (let i = 0; i < n; i++) {
      const p = batch.data.subarray(i * 2048 + batch.offsets[i]);
      const ihl = (p[0] & 15) * 4;
      const inner = p.subarray(ihl + 8);
      const source = p.readUInt16BE(ihl + 2) === 0x86dd ? inner.subarray(8, 24).toString('hex') : inner.subarray(12, 16).join('.');
      seen.raw.push({ key: p.readUInt32BE(ihl + 4), innerProtocol: p[ihl + 8 + 9], source });
    }
  }
});
console.log('ready');
setTimeout(() => {
  const counters = route.counters();
  let badHeader = null;
  try { route.configure({ ...config, header4: new Uint8Array(33) }); } catch (err) { badHeader = err.code; }
  tun.close();
  let closedTun = null;
  try { route.configure(config); } catch (err) { closedTun = err.code; }
  route.close();
  const dropped = raw.dropCounters();
  raw.close();
  console.log(JSON.stringify({ counters, seen, badHeader, closedTun, dropped }));
}, Number(process.argv[1]));
`;

// B: raw GRE on 192.0.2.2; 300 ms after ready sends each hex payload (GRE header + inner) to A;
// reports every GRE packet it received within argv[1] ms: key, inner protocol and ICMP type.
const peerScript = `
import { createPacketBatch, openRawSocket } from '${nativeUrl}';
const [ms, ...payloads] = process.argv.slice(1);
const raw = openRawSocket(47, '192.0.2.2');
const batch = createPacketBatch(64, 2048);
const received = [];
raw.onReadable(() => {
  for (let n; (n = raw.readBatch(batch, 0)) > 0;) {
    for (let i = 0; i < n; i++) {
      const p = batch.data.subarray(i * 2048 + batch.offsets[i]);
      const ihl = (p[0] & 15) * 4;
      const inner = p.subarray(ihl + 8);
      received.push({ flags: p.readUInt16BE(ihl), key: p.readUInt32BE(ihl + 4), innerProtocol: inner[9], icmpType: inner[20] });
    }
  }
});
const out = createPacketBatch(8, 2048);
payloads.forEach((hex, i) => {
  const bytes = Buffer.from(hex, 'hex');
  bytes.copy(out.data, i * 2048);
  out.offsets[i] = 0; out.lengths[i] = bytes.length; out.addrs[i] = (192 << 24 | 2 << 8 | 1) >>> 0;
});
let sent = 0;
setTimeout(() => { sent = raw.writeBatch(out, payloads.length); }, 300);
setTimeout(() => { raw.close(); console.log(JSON.stringify({ sent, received })); }, Number(ms));
console.log('ready');
`;

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
    const route = startNodeIn(pair.a, routeScript, ['5000']);
    await route.ready;
    const peerRun = startNodeIn(pair.b, peerScript, ['3500',
      greWithKey(KEY, echoRequest('10.82.0.2', '10.82.0.1')), // taken: A's kernel answers through the route
      greWithKey(KEY + 1, echoRequest('10.82.0.2', '10.82.0.1')), // another key: JS
      greWithKey(KEY, ipv4Packet({ src: '192.0.2.2', dst: '192.0.2.1', protocol: 47, length: 40 })), // GRE in GRE (a keepalive?): JS
    ]);
    await peerRun.ready;
    // TUN -> route: small pings go out natively; DF pings above the route's MTU go to JS.
    execIn(pair.a, 'sh', ['-c', 'ping -c 3 -i 0.2 -W 1 10.82.0.2 >/dev/null 2>&1; ping -c 2 -i 0.2 -W 1 -M do -s 1450 10.82.0.2 >/dev/null 2>&1; true']);
    const peer = await peerRun.result as { sent: number; received: { flags: number; key: number; innerProtocol: number; icmpType: number }[] };
    const result = await route.result as {
      counters: { rxPackets: number; txPackets: number; rxErrors: number; txErrors: number; msSinceReceive: number | null };
      seen: { tun: { length: number; df: boolean; protocol: number }[]; raw: { key: number; innerProtocol: number }[] };
      badHeader: string | null; closedTun: string | null; dropped: { unreadForwarded: number };
    };

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
    const route = startNodeIn(pair.a, routeScript, ['3000', sources]);
    await route.ready;
    const peerRun = startNodeIn(pair.b, peerScript, ['2000',
      greWithKey(KEY, echoRequest('10.82.0.2', '10.82.0.1')), // its own address: taken
      greWithKey(KEY, echoRequest('10.82.0.99', '10.82.0.1')), // beside it on the /30: JS
      greWithKey(KEY, echoRequest('10.50.2.10', '10.82.0.1')), // outside everything: JS
      greWithKey(KEY, ipv6From('fe800000000000000000000000000002')), // link-local: taken
      greWithKey(KEY, ipv6From('20010db8000500000000000000000009')), // inside 2001:db8:5::/48: taken
      greWithKey(KEY, ipv6From('20010db8000600000000000000000009')), // outside: JS
    ]);
    await peerRun.ready;
    expect((await peerRun.result as { sent: number }).sent).toBe(6);
    const result = await route.result as { counters: { rxPackets: number }; seen: { raw: { key: number; source: string }[] } };
    expect(result.counters.rxPackets).toBe(3);
    expect(result.seen.raw.map((p) => p.source).sort()).toEqual(['10.50.2.10', '10.82.0.99', '20010db8000600000000000000000009']);
  });
});
