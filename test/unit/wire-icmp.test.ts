import { describe, expect, it } from 'vitest';
import {
  buildIcmpFragmentationNeeded,
  buildIcmpv6PacketTooBig,
  decodeIpv4,
  decodeIpv6,
  encodeIpv4Header,
  ICMP_FRAG_NEEDED_MAX_LENGTH,
  internetChecksum,
  ipv4ToNumber,
} from '../../shared/wire/index.js';

// 10.0.0.1 → 10.0.0.2, TCP, DF, 1500 bytes; first 8 TCP bytes: ports 50000 → 80, seq 10.
const ORIGINAL_HEADER = '450005dc1234400040060ee60a0000010a000002';
const ORIGINAL_TCP8 = 'c35000500000000a';
// Computed independently (Python, RFC 1071): IPv4 10.0.0.254 → 10.0.0.1, TOS 0xc0, TTL 64,
// ICMP 3/4, MTU 1480, quoting the header and 8 bytes.
const EXPECTED_FRAG_NEEDED =
  '45c0003800000000400165070a0000fe0a000001' + '03043389000005c8' + ORIGINAL_HEADER + ORIGINAL_TCP8;

function originalPacket(): Buffer {
  const packet = Buffer.alloc(1500, 0x5a);
  Buffer.from(ORIGINAL_HEADER + ORIGINAL_TCP8, 'hex').copy(packet);
  return packet;
}

describe('buildIcmpFragmentationNeeded', () => {
  it('builds the exact packet RFC 792 + RFC 1191 describe', () => {
    const target = Buffer.alloc(ICMP_FRAG_NEEDED_MAX_LENGTH);
    const length = buildIcmpFragmentationNeeded(target, 0, originalPacket(), 0, 1500, 1480, ipv4ToNumber('10.0.0.254'));
    expect(length).toBe(56);
    expect(target.subarray(0, length).toString('hex')).toBe(EXPECTED_FRAG_NEEDED);
  });

  it('has checksums that verify to 0 and the structure a host needs for PMTU discovery', () => {
    const original = Buffer.concat([Buffer.alloc(7, 0xee), originalPacket()]);
    const target = Buffer.alloc(200, 0x11);
    const length = buildIcmpFragmentationNeeded(target, 3, original, 7, 1500, 1476, ipv4ToNumber('10.0.0.254'));
    const ip = decodeIpv4(target, 3, length);
    expect(ip).toMatchObject({ ok: true, protocol: 1, ttl: 64, src: ipv4ToNumber('10.0.0.254'), dst: ipv4ToNumber('10.0.0.1') });
    if (!ip.ok) throw new Error('unreachable');
    expect(internetChecksum(target, ip.payloadOffset, ip.payloadLength)).toBe(0);
    expect(target[ip.payloadOffset]).toBe(3);
    expect(target[ip.payloadOffset + 1]).toBe(4);
    expect(target.readUInt16BE(ip.payloadOffset + 6)).toBe(1476);
    expect(target.subarray(ip.payloadOffset + 8, ip.payloadOffset + 36)).toEqual(original.subarray(7, 35));
    expect(target[2]).toBe(0x11);
    expect(target[3 + length]).toBe(0x11);
  });

  it('quotes IP options and a payload shorter than 8 bytes', () => {
    const original = Buffer.alloc(28);
    encodeIpv4Header(original, 0, { totalLength: 28, ttl: 64, protocol: 17, dontFragment: true, src: 0x0a000001, dst: 0x0a000002 });
    // Turn it into IHL 6 with one option word and 4 payload bytes.
    original[0] = 0x46;
    original.writeUInt32BE(0x01010100, 20);
    const target = Buffer.alloc(ICMP_FRAG_NEEDED_MAX_LENGTH);
    const length = buildIcmpFragmentationNeeded(target, 0, original, 0, 28, 1400, 0x0a0000fe);
    expect(length).toBe(20 + 8 + 24 + 4);
    expect(target.subarray(28, length)).toEqual(original);
  });

  it('sends nothing where RFC 1122 forbids an ICMP error', () => {
    const target = Buffer.alloc(ICMP_FRAG_NEEDED_MAX_LENGTH);
    const build = (fields: Parameters<typeof encodeIpv4Header>[2], payload = '0800000000000000', fragment = 0): number => {
      const packet = Buffer.alloc(28);
      encodeIpv4Header(packet, 0, fields);
      Buffer.from(payload, 'hex').copy(packet, 20);
      if (fragment !== 0) packet.writeUInt16BE(fragment, 6);
      return buildIcmpFragmentationNeeded(target, 0, packet, 0, 28, 1400, 0x0a0000fe);
    };
    const base = { totalLength: 28, ttl: 64, protocol: 1, dontFragment: true, src: 0x0a000001, dst: 0x0a000002 };
    expect(build(base)).toBe(56); // an echo request is answered
    expect(build(base, '0304000000000578')).toBe(0); // an ICMP error is not
    expect(build(base, '0b00000000000000')).toBe(0); // time exceeded neither
    expect(build({ ...base, dst: ipv4ToNumber('224.0.0.5') })).toBe(0);
    expect(build({ ...base, dst: 0xffffffff })).toBe(0);
    expect(build({ ...base, src: 0 })).toBe(0);
    expect(build({ ...base, src: ipv4ToNumber('127.0.0.1') })).toBe(0);
    expect(build({ ...base, protocol: 17 }, '0000000000000000', 0x4001)).toBe(0); // non-first fragment
    expect(buildIcmpFragmentationNeeded(target, 0, Buffer.from('6000', 'hex'), 0, 2, 1400, 1)).toBe(0);
  });

  it('throws a RangeError (a caller bug) when the target is too small', () => {
    expect(() => buildIcmpFragmentationNeeded(Buffer.alloc(55), 0, originalPacket(), 0, 1500, 1480, 1)).toThrow(RangeError);
  });
});

const V6_SRC = 'fd000000000000000000000000000001';
const V6_DST = 'fd000000000000000000000000000002';
const V6_ROUTER = 'fd0000000000000000000000000000fe';

function ipv6Packet(totalLength: number, nextHeader: number, src = V6_SRC, firstPayloadByte = 0x80): Buffer {
  const packet = Buffer.alloc(totalLength, 0x77);
  packet.writeUInt32BE(0x60000000, 0);
  packet.writeUInt16BE(totalLength - 40, 4);
  packet[6] = nextHeader;
  packet[7] = 64;
  Buffer.from(src + V6_DST, 'hex').copy(packet, 8);
  if (totalLength > 40) packet[40] = firstPayloadByte;
  return packet;
}

/** Verifies an ICMPv6 checksum by building the RFC 8200 pseudo-header explicitly. */
function icmpv6ChecksumVerifies(packet: Buffer): boolean {
  const icmp = packet.subarray(40, 40 + packet.readUInt16BE(4));
  const pseudo = Buffer.alloc(40);
  packet.copy(pseudo, 0, 8, 40);
  pseudo.writeUInt32BE(icmp.length, 32);
  pseudo[39] = 58;
  const whole = Buffer.concat([pseudo, icmp]);
  return internetChecksum(whole, 0, whole.length) === 0;
}

describe('buildIcmpv6PacketTooBig', () => {
  it('quotes as much as fits in 1280 bytes and checksums over the pseudo-header', () => {
    const original = ipv6Packet(1500, 6);
    const target = Buffer.alloc(1400);
    const length = buildIcmpv6PacketTooBig(target, 0, original, 0, 1500, 1456, Buffer.from(V6_ROUTER, 'hex'));
    expect(length).toBe(1280);
    const ip = decodeIpv6(target, 0, length);
    expect(ip).toMatchObject({ ok: true, nextHeader: 58, hopLimit: 64, payloadLength: 1240 });
    expect(target.subarray(8, 24).toString('hex')).toBe(V6_ROUTER);
    expect(target.subarray(24, 40).toString('hex')).toBe(V6_SRC);
    expect(target[40]).toBe(2);
    expect(target[41]).toBe(0);
    expect(target.readUInt32BE(44)).toBe(1456);
    expect(target.subarray(48, 1280)).toEqual(original.subarray(0, 1232));
    expect(icmpv6ChecksumVerifies(target.subarray(0, length))).toBe(true);
  });

  it('quotes a small packet whole, with the source address taken at an offset', () => {
    const original = ipv6Packet(100, 17);
    const from = Buffer.concat([Buffer.alloc(5), Buffer.from(V6_ROUTER, 'hex')]);
    const target = Buffer.alloc(200);
    const length = buildIcmpv6PacketTooBig(target, 2, original, 0, 100, 1280, from, 5);
    expect(length).toBe(148);
    expect(target.subarray(2 + 48, 2 + 148)).toEqual(original);
    expect(icmpv6ChecksumVerifies(target.subarray(2, 2 + length))).toBe(true);
  });

  it('answers a multicast destination (RFC 4443 §2.4 e.2) but not errors or bad sources', () => {
    const target = Buffer.alloc(1400);
    const from = Buffer.from(V6_ROUTER, 'hex');
    const multicast = ipv6Packet(100, 17);
    Buffer.from('ff020000000000000000000000000005', 'hex').copy(multicast, 24);
    expect(buildIcmpv6PacketTooBig(target, 0, multicast, 0, 100, 1280, from)).toBe(148);
    expect(buildIcmpv6PacketTooBig(target, 0, ipv6Packet(100, 58, V6_SRC, 0x80), 0, 100, 1280, from)).toBe(148); // echo request
    expect(buildIcmpv6PacketTooBig(target, 0, ipv6Packet(100, 58, V6_SRC, 1), 0, 100, 1280, from)).toBe(0); // destination unreachable
    expect(buildIcmpv6PacketTooBig(target, 0, ipv6Packet(100, 17, '0'.repeat(32)), 0, 100, 1280, from)).toBe(0);
    expect(buildIcmpv6PacketTooBig(target, 0, ipv6Packet(100, 17, 'ff02' + '0'.repeat(27) + '1'), 0, 100, 1280, from)).toBe(0);
    expect(buildIcmpv6PacketTooBig(target, 0, Buffer.from('4500', 'hex'), 0, 2, 1280, from)).toBe(0);
  });
});
