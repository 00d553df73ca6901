import { describe, expect, it } from 'vitest';
import { decodeIpip, decodeIpv6, encodeIpv4Header, ipVersionOf, IPPROTO_IPIP } from '../../shared/wire/index.js';

const INNER_V6 = '6abcdef0000c3a40' + 'fd000000000000000000000000000001' + 'ff020000000000000000000000000005' + '800000000000000000000000';
const hex = (s: string): Buffer => Buffer.from(s, 'hex');

describe('decodeIpv6', () => {
  it('decodes the fixed header without copying addresses', () => {
    const framed = Buffer.concat([hex('eeee'), hex(INNER_V6)]);
    const h = decodeIpv6(framed, 2, framed.length - 2);
    expect(h).toEqual({
      ok: true,
      trafficClass: 0xab,
      flowLabel: 0xcdef0,
      payloadLength: 12,
      nextHeader: 58,
      hopLimit: 64,
      srcOffset: 10,
      dstOffset: 26,
      payloadOffset: 42,
    });
    if (!h.ok) throw new Error('unreachable');
    expect(framed.subarray(h.dstOffset, h.dstOffset + 16).toString('hex')).toBe('ff020000000000000000000000000005');
  });

  it('rejects bad version, short headers and payloads longer than the window', () => {
    expect(decodeIpv6(hex('4' + INNER_V6.slice(1)))).toMatchObject({ ok: false, reason: 'bad-version' });
    expect(decodeIpv6(hex(INNER_V6).subarray(0, 39))).toMatchObject({ ok: false, reason: 'truncated' });
    expect(decodeIpv6(hex(INNER_V6).subarray(0, 51))).toMatchObject({ ok: false, reason: 'bad-total-length' });
  });

  it('ipVersionOf reads the version nibble', () => {
    expect(ipVersionOf(hex(INNER_V6))).toBe(6);
    expect(ipVersionOf(hex('45'))).toBe(4);
    expect(ipVersionOf(hex('55'))).toBe(0);
    expect(ipVersionOf(hex('45'), 1)).toBe(0);
    expect(ipVersionOf(hex(''), 0)).toBe(0);
  });
});

describe('decodeIpip', () => {
  it('accepts an inner IPv4 packet (outer protocol 4)', () => {
    const inner = Buffer.alloc(28);
    encodeIpv4Header(inner, 0, { totalLength: 28, ttl: 1, protocol: 1, src: 0x0a000001, dst: 0xe0000005 });
    expect(IPPROTO_IPIP).toBe(4);
    expect(decodeIpip(inner)).toMatchObject({ ok: true, ttl: 1, dst: 0xe0000005, payloadLength: 8 });
    inner[10] = inner[10]! ^ 0xff;
    expect(decodeIpip(inner)).toMatchObject({ ok: true });
    expect(decodeIpip(inner, 0, 28, true)).toMatchObject({ ok: false, reason: 'bad-checksum' });
  });

  it('refuses an IPv6 payload (that would be protocol 41) and garbage', () => {
    expect(decodeIpip(hex(INNER_V6))).toMatchObject({ ok: false, reason: 'unsupported-protocol' });
    expect(decodeIpip(hex('45'))).toMatchObject({ ok: false, reason: 'truncated' });
    expect(decodeIpip(hex(''))).toMatchObject({ ok: false, reason: 'truncated' });
  });
});
