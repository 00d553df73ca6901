import { describe, expect, it } from 'vitest';
import {
  decodeIpv4,
  encodeIpv4Header,
  internetChecksum,
  ipv4ToNumber,
  numberToIpv4,
} from '../../shared/wire/index.js';

// The textbook header (Wikipedia "IPv4 header checksum"): 192.168.0.1 → 192.168.0.199, UDP,
// 115 bytes, DF, TTL 64, checksum 0xb861.
const CLASSIC = '45000073000040004011b861c0a80001c0a800c7';

function withPayload(headerHex: string, payloadLength: number): Buffer {
  const packet = Buffer.alloc(headerHex.length / 2 + payloadLength, 0xab);
  Buffer.from(headerHex, 'hex').copy(packet);
  return packet;
}

describe('decodeIpv4', () => {
  it('decodes and verifies a known-good header', () => {
    const packet = withPayload(CLASSIC, 0x73 - 20);
    const h = decodeIpv4(packet);
    expect(h).toEqual({
      ok: true,
      headerLength: 20,
      tos: 0,
      totalLength: 0x73,
      id: 0,
      dontFragment: true,
      moreFragments: false,
      fragmentOffset: 0,
      ttl: 64,
      protocol: 17,
      checksum: 0xb861,
      src: ipv4ToNumber('192.168.0.1'),
      dst: ipv4ToNumber('192.168.0.199'),
      payloadOffset: 20,
      payloadLength: 0x73 - 20,
    });
  });

  it('rejects a wrong checksum unless told not to verify', () => {
    const packet = withPayload(CLASSIC.replace('b861', 'b862'), 0x73 - 20);
    expect(decodeIpv4(packet)).toMatchObject({ ok: false, reason: 'bad-checksum' });
    expect(decodeIpv4(packet, 0, packet.length, { verifyChecksum: false })).toMatchObject({ ok: true, checksum: 0xb862 });
  });

  it('rejects bad version, IHL and lengths', () => {
    expect(decodeIpv4(withPayload('6' + CLASSIC.slice(1), 95))).toMatchObject({ reason: 'bad-version' });
    expect(decodeIpv4(withPayload('44' + CLASSIC.slice(2), 95))).toMatchObject({ reason: 'bad-header-length' });
    expect(decodeIpv4(Buffer.from(CLASSIC, 'hex'))).toMatchObject({ reason: 'bad-total-length' });
    expect(decodeIpv4(Buffer.from(CLASSIC, 'hex').subarray(0, 19))).toMatchObject({ reason: 'truncated' });
    // IHL 15 (60 bytes) in a 40-byte buffer.
    expect(decodeIpv4(withPayload('4f' + CLASSIC.slice(2), 20))).toMatchObject({ reason: 'truncated' });
    // totalLength smaller than the header.
    const short = Buffer.from(CLASSIC, 'hex');
    short.writeUInt16BE(19, 2);
    expect(decodeIpv4(short, 0, 20, { verifyChecksum: false })).toMatchObject({ reason: 'bad-total-length' });
  });

  it('ignores link padding after totalLength and decodes inside a window', () => {
    const packet = withPayload(CLASSIC, 0x73 - 20 + 10);
    const framed = Buffer.concat([Buffer.from('deadbeef', 'hex'), packet]);
    const h = decodeIpv4(framed, 4, packet.length);
    expect(h).toMatchObject({ ok: true, payloadOffset: 24, payloadLength: 0x73 - 20 });
  });

  it('reports fragment fields and options', () => {
    // IHL 6 (one 4-byte option: NOP×3 + EOL), MF set, fragment offset 185 × 8.
    const header = Buffer.from('46000020abcd20b940010000c0000201c633640a01010100', 'hex');
    header.writeUInt16BE(internetChecksum(header, 0, 24), 10);
    const packet = Buffer.concat([header, Buffer.alloc(8)]);
    expect(decodeIpv4(packet)).toMatchObject({
      ok: true,
      headerLength: 24,
      id: 0xabcd,
      dontFragment: false,
      moreFragments: true,
      fragmentOffset: 185 * 8,
      protocol: 1,
      src: ipv4ToNumber('192.0.2.1'),
      dst: ipv4ToNumber('198.51.100.10'),
      payloadOffset: 24,
      payloadLength: 8,
    });
  });

  it('rejects a window that is not inside the buffer', () => {
    const packet = withPayload(CLASSIC, 0x73 - 20);
    expect(decodeIpv4(packet, 10, packet.length)).toMatchObject({ ok: false, reason: 'truncated' });
    expect(decodeIpv4(packet, -1, 20)).toMatchObject({ ok: false, reason: 'truncated' });
  });
});

describe('encodeIpv4Header', () => {
  it('reproduces the known-good header byte for byte', () => {
    const out = Buffer.alloc(20);
    const written = encodeIpv4Header(out, 0, {
      totalLength: 0x73,
      dontFragment: true,
      ttl: 64,
      protocol: 17,
      src: ipv4ToNumber('192.168.0.1'),
      dst: ipv4ToNumber('192.168.0.199'),
    });
    expect(written).toBe(20);
    expect(out.toString('hex')).toBe(CLASSIC);
  });

  it('round-trips through decodeIpv4', () => {
    const out = Buffer.alloc(64, 0xee);
    encodeIpv4Header(out, 4, {
      tos: 0xb8,
      totalLength: 60,
      id: 0x1234,
      ttl: 1,
      protocol: 47,
      src: ipv4ToNumber('203.0.113.9'),
      dst: ipv4ToNumber('198.51.100.255'),
    });
    expect(decodeIpv4(out, 4, 60)).toMatchObject({
      ok: true,
      tos: 0xb8,
      totalLength: 60,
      id: 0x1234,
      dontFragment: false,
      ttl: 1,
      protocol: 47,
      src: ipv4ToNumber('203.0.113.9'),
      dst: ipv4ToNumber('198.51.100.255'),
      payloadOffset: 24,
      payloadLength: 40,
    });
  });

  it('refuses to write past the end of the target', () => {
    expect(() => encodeIpv4Header(Buffer.alloc(19), 0, { totalLength: 20, ttl: 64, protocol: 1, src: 0, dst: 0 })).toThrow(RangeError);
  });
});

describe('IPv4 address helpers', () => {
  it('converts both ways as unsigned numbers', () => {
    expect(ipv4ToNumber('1.2.3.4')).toBe(0x01020304);
    expect(ipv4ToNumber('255.255.255.255')).toBe(0xffffffff);
    expect(numberToIpv4(0xc0000201)).toBe('192.0.2.1');
    expect(numberToIpv4(ipv4ToNumber('203.0.113.254'))).toBe('203.0.113.254');
  });

  it('rejects malformed addresses with ERR_INVALID_ADDRESS', () => {
    for (const bad of ['1.2.3', '256.1.1.1', '01.2.3.4', '1.2.3.4 ', '', 'a.b.c.d', '1.2.3.4.5']) {
      expect(() => ipv4ToNumber(bad), bad).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ADDRESS' }));
    }
  });
});
