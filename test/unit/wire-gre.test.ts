import { describe, expect, it } from 'vitest';
import {
  decodeGre,
  encodeGreHeader,
  GRE_PROTO_IPV4,
  GRE_PROTO_IPV6,
  greHeaderLength,
  internetChecksum,
} from '../../shared/wire/index.js';

const INNER = '4500001c00004000400126df0a0000010a000002'; // 20-byte IPv4 header, ICMP 10.0.0.1 → 10.0.0.2
const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('decodeGre', () => {
  it('decodes a plain header (RFC 2784, 4 bytes)', () => {
    const packet = hex('0000 0800' + INNER);
    expect(decodeGre(packet)).toEqual({
      ok: true,
      checksumPresent: false,
      keyPresent: false,
      sequencePresent: false,
      key: undefined,
      sequence: undefined,
      protocolType: GRE_PROTO_IPV4,
      headerLength: 4,
      payloadOffset: 4,
      payloadLength: 20,
    });
  });

  it('decodes a keyed header (K bit 0x2000), as `ip link add … type gre key 1`', () => {
    expect(decodeGre(hex('2000 0800 00000001' + INNER))).toMatchObject({
      ok: true,
      keyPresent: true,
      key: 1,
      headerLength: 8,
      payloadOffset: 8,
      payloadLength: 20,
    });
    expect(decodeGre(hex('2000 86dd fffffffe'))).toMatchObject({ ok: true, key: 0xfffffffe, protocolType: GRE_PROTO_IPV6, payloadLength: 0 });
  });

  it('decodes a sequenced header (S bit 0x1000)', () => {
    expect(decodeGre(hex('1000 0800 0000002a' + INNER))).toMatchObject({ ok: true, sequencePresent: true, sequence: 42, key: undefined, headerLength: 8 });
  });

  it('verifies the checksum (C bit 0x8000) over header and payload', () => {
    // Sum 0x8000 + 0x0800 + 0x0102 + 0x0304 = 0x8c06, complement 0x73f9 (computed by hand).
    expect(decodeGre(hex('8000 0800 73f9 0000 0102 0304'))).toMatchObject({ ok: true, checksumPresent: true, headerLength: 8, payloadLength: 4 });
    expect(decodeGre(hex('8000 0800 73f9 0000 0102 0305'))).toMatchObject({ ok: false, reason: 'bad-checksum' });
    expect(decodeGre(hex('8000 0800 73f8 0000 0102 0304'))).toMatchObject({ ok: false, reason: 'bad-checksum' });
  });

  it('decodes all three fields in RFC order: checksum, key, sequence', () => {
    const packet = hex('b000 0800 0000 0000 0000beef 00000007' + INNER);
    packet.writeUInt16BE(internetChecksum(packet, 0, packet.length), 4);
    expect(decodeGre(packet)).toMatchObject({ ok: true, key: 0xbeef, sequence: 7, headerLength: 16, payloadOffset: 16, payloadLength: 20 });
  });

  it('drops version ≠ 0 (RFC 2784 §2.3.1), including PPTP enhanced GRE (version 1)', () => {
    expect(decodeGre(hex('0001 0800' + INNER))).toMatchObject({ ok: false, reason: 'bad-version' });
    expect(decodeGre(hex('3081 880b 0000 0000'))).toMatchObject({ ok: false, reason: 'bad-version' });
  });

  it('drops bits 1, 4 and 5 (routing, strict route, recursion) per RFC 2784 §2.5.1', () => {
    expect(decodeGre(hex('4000 0800' + INNER))).toMatchObject({ ok: false, reason: 'reserved-bits' });
    expect(decodeGre(hex('0800 0800' + INNER))).toMatchObject({ ok: false, reason: 'reserved-bits' });
    expect(decodeGre(hex('0400 0800' + INNER))).toMatchObject({ ok: false, reason: 'reserved-bits' });
  });

  it('ignores bits 6-12 on receipt, as RFC 2784 §2.5 requires', () => {
    expect(decodeGre(hex('03f8 0800' + INNER))).toMatchObject({ ok: true, headerLength: 4, protocolType: 0x0800 });
  });

  it('reports truncation when the flags promise more than the window holds', () => {
    expect(decodeGre(hex('0000 08'))).toMatchObject({ ok: false, reason: 'truncated' });
    expect(decodeGre(hex('2000 0800 0000'))).toMatchObject({ ok: false, reason: 'truncated' });
    expect(decodeGre(hex('b000 0800 0000 0000 0000beef'))).toMatchObject({ ok: false, reason: 'truncated' });
  });

  it('returns the protocol type as is, for the engine to decide (keepalive type 0 included)', () => {
    expect(decodeGre(hex('0000 0000'))).toMatchObject({ ok: true, protocolType: 0, payloadLength: 0 });
    expect(decodeGre(hex('0000 6558'))).toMatchObject({ ok: true, protocolType: 0x6558 });
  });
});

describe('encodeGreHeader', () => {
  it('writes each combination and round-trips through decodeGre', () => {
    const payload = hex(INNER);
    for (const checksum of [false, true]) {
      for (const key of [undefined, 0, 0xdeadbeef]) {
        for (const sequence of [undefined, 0xffffffff]) {
          const headerLength = greHeaderLength({ checksum, key: key !== undefined, sequence: sequence !== undefined });
          const packet = Buffer.alloc(headerLength + payload.length + 3, 0x55);
          payload.copy(packet, 3 + headerLength);
          const written = encodeGreHeader(packet, 3, { protocolType: GRE_PROTO_IPV4, key, sequence, checksum }, payload.length);
          expect(written).toBe(headerLength);
          expect(decodeGre(packet, 3, headerLength + payload.length)).toEqual({
            ok: true,
            checksumPresent: checksum,
            keyPresent: key !== undefined,
            sequencePresent: sequence !== undefined,
            key,
            sequence,
            protocolType: GRE_PROTO_IPV4,
            headerLength,
            payloadOffset: 3 + headerLength,
            payloadLength: payload.length,
          });
        }
      }
    }
  });

  it('writes the exact bytes of a keyed header and of a checksummed one', () => {
    const keyed = Buffer.alloc(8);
    encodeGreHeader(keyed, 0, { protocolType: GRE_PROTO_IPV6, key: 1 }, 0);
    expect(keyed.toString('hex')).toBe('200086dd00000001');
    const summed = hex('00000000 00000000 0102 0304');
    encodeGreHeader(summed, 0, { protocolType: GRE_PROTO_IPV4, checksum: true }, 4);
    expect(summed.toString('hex')).toBe('8000080073f9000001020304');
  });

  it('greHeaderLength adds 4 per optional field', () => {
    expect(greHeaderLength({})).toBe(4);
    expect(greHeaderLength({ key: true })).toBe(8);
    expect(greHeaderLength({ key: true, sequence: true })).toBe(12);
    expect(greHeaderLength({ checksum: true, key: true, sequence: true })).toBe(16);
  });

  it('refuses to write past the end of the target', () => {
    expect(() => encodeGreHeader(Buffer.alloc(7), 0, { protocolType: 0x800, key: 1 }, 0)).toThrow(RangeError);
    expect(() => encodeGreHeader(Buffer.alloc(10), 0, { protocolType: 0x800, checksum: true }, 4)).toThrow(RangeError);
  });
});
