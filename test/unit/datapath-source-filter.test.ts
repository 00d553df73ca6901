import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DatapathEngine } from '../../shared/datapath/datapath-engine.js';
import { SourceFilter } from '../../shared/datapath/source-filter.js';
import type { TunnelSpecInput } from '../../shared/datapath/tunnel-spec.js';
import { rejectionOf } from '../helpers/error-code.js';
import { formatIpAddress, formatIpPrefix, ipPrefixHas, parseIpPrefix } from '../../shared/net/ip-prefix.js';
import { ipv4ToNumber } from '../../shared/wire/ipv4-address.js';
import { anyIpv4Prefix, anyIpv6Prefix } from '../fixtures/ip-prefix-arbitraries.js';
import { FakeDatapathIo } from '../helpers/fake-datapath-io.js';
import { ipv4Packet, ipv6Packet, outerPacket } from '../helpers/test-packets.js';

const A = '192.0.2.1';
const B = '192.0.2.2';

function spec(overrides: Partial<TunnelSpecInput> = {}): TunnelSpecInput {
  return { name: 'tnl-c1', encap: 'gre', local: A, remote: B, address: '10.1.12.1/30', peerAddress: '10.1.12.2', keepaliveInterval: 0, ...overrides };
}

function gre(inner: Buffer): Buffer {
  const header = Buffer.from([0, 0, inner[0]! >> 4 === 6 ? 0x86 : 0x08, inner[0]! >> 4 === 6 ? 0xdd : 0x00]);
  return outerPacket(B, A, 47, Buffer.concat([header, inner]));
}

function ipv6From(source: string): Buffer {
  const packet = ipv6Packet(80);
  Buffer.from(source, 'hex').copy(packet, 8);
  return packet;
}

function v4Bytes(address: string): Buffer {
  return ipv4Packet({ src: address, dst: '10.1.12.1', length: 40 });
}

describe('SourceFilter', () => {
  it('accepts exactly the addresses inside its prefixes (IPv4, against the prefix maths)', async () => {
    const prefix = anyIpv4Prefix.map(formatIpPrefix);
    fc.assert(fc.property(fc.array(prefix, { maxLength: 6 }), fc.integer({ min: 0, max: 0xffffffff }), (prefixes, address) => {
      const filter = new SourceFilter(prefixes);
      const expected = prefixes.some((p) => ipPrefixHas(parseIpPrefix(p), 4, BigInt(address)));
      return filter.allows(v4Bytes(formatIpAddress(4, BigInt(address))), 0, 4) === expected;
    }));
  });

  it('accepts exactly the IPv6 addresses inside its prefixes, and link-local or unspecified ones always', async () => {
    const address = fc.bigInt({ min: 0n, max: (1n << 128n) - 1n });
    const prefix = anyIpv6Prefix.map(formatIpPrefix);
    fc.assert(fc.property(fc.array(prefix, { maxLength: 6 }), address, (prefixes, value) => {
      const filter = new SourceFilter(prefixes);
      const linkScoped = value >> 118n === 0x3fan || value === 0n;
      const expected = linkScoped || prefixes.some((p) => ipPrefixHas(parseIpPrefix(p), 6, value));
      return filter.allows(ipv6From(value.toString(16).padStart(32, '0')), 0, 6) === expected;
    }));
  });

  it('refuses a malformed prefix with ERR_INVALID_CIDR', async () => {
    expect(() => new SourceFilter(['10.1.12.2/24'])).toThrow(expect.objectContaining({ code: 'ERR_INVALID_CIDR' }));
  });
});

describe('the engine drops inner packets from sources outside a tunnel\'s `sources`', () => {
  it('delivers allowed sources, counts the rest as spoofed, and changes the list live', async () => {
    const io = new FakeDatapathIo();
    const engine = new DatapathEngine(io);
    await engine.addTunnel(spec({ sources: ['10.1.12.2/32', '10.50.2.0/24', '2001:db8:52::/64'] }));
    const raw = io.socket(`raw 47 ${A}`);
    raw.deliver(
      { bytes: gre(v4Bytes('10.1.12.2')), addr: ipv4ToNumber(B), port: 0 },
      { bytes: gre(v4Bytes('10.50.2.10')), addr: ipv4ToNumber(B), port: 0 },
      { bytes: gre(v4Bytes('10.1.12.6')), addr: ipv4ToNumber(B), port: 0 },
      { bytes: gre(v4Bytes('10.50.3.1')), addr: ipv4ToNumber(B), port: 0 },
      { bytes: gre(ipv6From('20010db8005200000000000000000010')), addr: ipv4ToNumber(B), port: 0 },
      { bytes: gre(ipv6From('fe800000000000000000000000000002')), addr: ipv4ToNumber(B), port: 0 },
      { bytes: gre(ipv6From('20010db8005300000000000000000010')), addr: ipv4ToNumber(B), port: 0 },
    );
    const delivered = io.tun('tnl-c1').take();
    expect(delivered.map((p) => p.bytes[0]! >> 4 === 4 ? p.bytes.subarray(12, 16).join('.') : p.bytes.subarray(8, 10).toString('hex')))
      .toEqual(['10.1.12.2', '10.50.2.10', '2001', 'fe80']);
    let status = engine.tunnelStatus('tnl-c1');
    expect(status).toMatchObject({ spoofed: 3, sources: ['10.1.12.2/32', '10.50.2.0/24', '2001:db8:52::/64'] });
    expect(status.dropsByReason).toEqual({ 'rx:spoofed': 3 });
    expect(status.rx.packets).toBe(4);

    await engine.update('tnl-c1', { sources: ['10.1.12.2/32'] });
    raw.deliver({ bytes: gre(v4Bytes('10.50.2.10')), addr: ipv4ToNumber(B), port: 0 });
    expect(io.tun('tnl-c1').take()).toHaveLength(0);
    await engine.update('tnl-c1', { sources: null });
    raw.deliver({ bytes: gre(v4Bytes('10.50.2.10')), addr: ipv4ToNumber(B), port: 0 });
    expect(io.tun('tnl-c1').take()).toHaveLength(1);
    status = engine.tunnelStatus('tnl-c1');
    expect(status).toMatchObject({ spoofed: 4, sources: null });
  });

  it('never filters what the TUN sends, only what arrives from the remote', async () => {
    const io = new FakeDatapathIo();
    const engine = new DatapathEngine(io);
    await engine.addTunnel(spec({ sources: ['10.1.12.2/32'] }));
    io.tun('tnl-c1').deliver({ bytes: ipv4Packet({ src: '10.50.9.9', dst: '10.1.12.2', length: 60 }), addr: 0, port: 0 });
    expect(io.socket(`raw 47 ${A}`).take()).toHaveLength(1);
    expect(engine.tunnelStatus('tnl-c1').spoofed).toBe(0);
  });

  it('refuses a bad list at add and at update, leaving the tunnel as it was', async () => {
    const io = new FakeDatapathIo();
    const engine = new DatapathEngine(io);
    expect((await rejectionOf(engine.addTunnel(spec({ sources: ['not-a-prefix'] })))).code).toBe('ERR_INVALID_CIDR');
    expect(engine.status()).toHaveLength(0);
    await engine.addTunnel(spec({ sources: ['10.1.12.2/32'] }));
    await expect(engine.update('tnl-c1', { sources: ['10.1.12.0/33'] })).rejects.toThrow(expect.objectContaining({ code: 'ERR_INVALID_CIDR' }));
    expect(engine.tunnelStatus('tnl-c1').sources).toEqual(['10.1.12.2/32']);
  });
});
