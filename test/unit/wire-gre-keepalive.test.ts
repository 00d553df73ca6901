import { describe, expect, it } from 'vitest';
import {
  buildGreKeepalive,
  buildGreKeepalive6,
  decodeGre,
  decodeGreKeepalive6,
  greKeepalive6Length,
  decodeGreKeepalive,
  decodeIpv4,
  encodeIpv4Header,
  GRE_PROTO_IPV4,
  greKeepaliveLength,
  ipv4ToNumber,
  isGreKeepaliveReply,
} from '../../shared/wire/index.js';

const LOCAL = ipv4ToNumber('192.0.2.1');
const REMOTE = ipv4ToNumber('198.51.100.2');
// Inner IPv4 198.51.100.2 → 192.0.2.1, TTL 255, protocol 47; checksums computed independently.
const INNER_IP = '4500001800000000ff2fcf7fc6336402c0000201';
const INNER_IP_KEYED = '4500001c00000000ff2fcf7bc6336402c0000201';

describe('buildGreKeepalive', () => {
  it('writes GRE | IPv4 remote→local proto 47 | GRE type 0', () => {
    const out = Buffer.alloc(greKeepaliveLength(false));
    expect(buildGreKeepalive(out, 0, { local: LOCAL, remote: REMOTE })).toBe(28);
    expect(out.toString('hex')).toBe('00000800' + INNER_IP + '00000000');
  });

  it('carries the key in both GRE headers', () => {
    const out = Buffer.alloc(greKeepaliveLength(true) + 2);
    expect(buildGreKeepalive(out, 2, { local: LOCAL, remote: REMOTE, key: 7 })).toBe(36);
    expect(out.subarray(2).toString('hex')).toBe('2000080000000007' + INNER_IP_KEYED + '2000000000000007');
  });

  it('throws a RangeError when the target is too small', () => {
    expect(() => buildGreKeepalive(Buffer.alloc(27), 0, { local: LOCAL, remote: REMOTE })).toThrow(RangeError);
  });
});

describe('keepalive round trip', () => {
  it('the peer recognises and reflects it; the sender sees its own keepalive return', () => {
    const sent = Buffer.alloc(36);
    buildGreKeepalive(sent, 0, { local: LOCAL, remote: REMOTE, key: 7 });

    // At the peer: the raw socket payload is decoded as GRE carrying IPv4.
    const outer = decodeGre(sent);
    expect(outer).toMatchObject({ ok: true, protocolType: GRE_PROTO_IPV4, key: 7 });
    if (!outer.ok) throw new Error('unreachable');
    expect(isGreKeepaliveReply(outer)).toBe(false);
    const keepalive = decodeGreKeepalive(sent, outer.payloadOffset, outer.payloadLength);
    expect(keepalive).toEqual({
      ok: true,
      src: REMOTE,
      dst: LOCAL,
      key: 7,
      packetOffset: 8,
      packetLength: 28,
      greOffset: 28,
      greLength: 8,
    });
    if (!keepalive.ok) throw new Error('unreachable');

    // The peer sends the inner GRE to `dst`; it arrives back at the sender as GRE of type 0.
    const returned = Buffer.alloc(20 + keepalive.greLength);
    encodeIpv4Header(returned, 0, { totalLength: returned.length, ttl: 64, protocol: 47, src: REMOTE, dst: LOCAL });
    sent.copy(returned, 20, keepalive.greOffset, keepalive.greOffset + keepalive.greLength);
    const ip = decodeIpv4(returned);
    if (!ip.ok) throw new Error('unreachable');
    const back = decodeGre(returned, ip.payloadOffset, ip.payloadLength);
    expect(back).toMatchObject({ ok: true, protocolType: 0, key: 7 });
    if (!back.ok) throw new Error('unreachable');
    expect(isGreKeepaliveReply(back)).toBe(true);
  });

  it('says not-keepalive for ordinary inner traffic, cheaply', () => {
    const data = Buffer.alloc(28);
    encodeIpv4Header(data, 0, { totalLength: 28, ttl: 64, protocol: 1, src: 0x0a000001, dst: 0x0a000002 });
    expect(decodeGreKeepalive(data, 0, 28)).toMatchObject({ ok: false, reason: 'not-keepalive' });
    const innerGreData = Buffer.from(INNER_IP + '00000800', 'hex');
    expect(decodeGreKeepalive(innerGreData, 0, 24)).toMatchObject({ ok: false, reason: 'not-keepalive' });
    expect(decodeGreKeepalive(Buffer.from('6000', 'hex'), 0, 2)).toMatchObject({ ok: false, reason: 'not-keepalive' });
  });

  it('refuses a keepalive with a broken inner header rather than reflecting it', () => {
    const bad = Buffer.from(INNER_IP.replace('cf7f', 'cf7e') + '00000000', 'hex');
    expect(decodeGreKeepalive(bad, 0, 24)).toMatchObject({ ok: false, reason: 'bad-checksum' });
    const badGre = Buffer.from(INNER_IP + '40000000', 'hex');
    expect(decodeGreKeepalive(badGre, 0, 24)).toMatchObject({ ok: false, reason: 'reserved-bits' });
  });
});

describe('the IPv6 keepalive (GRE over IPv6, as Linux ip6gre forwards it)', () => {
  const local6 = Buffer.from('20010db8000000000000000000000001', 'hex');
  const remote6 = Buffer.from('20010db8000000000000000000000002', 'hex');
  // GRE 0x86DD | IPv6 payload 4, next header 47, hop limit 255, 2001:db8::2 → 2001:db8::1 | GRE type 0.
  const EXPECTED = '000086dd' + '6000000000042fff' + remote6.toString('hex') + local6.toString('hex') + '00000000';

  it('writes GRE | IPv6 remote→local next header 47 | GRE type 0, with the key in both GRE headers', () => {
    const out = Buffer.alloc(greKeepalive6Length(false));
    expect(buildGreKeepalive6(out, 0, { local: local6, remote: remote6 })).toBe(48);
    expect(out.toString('hex')).toBe(EXPECTED);
    const keyed = Buffer.alloc(greKeepalive6Length(true));
    expect(buildGreKeepalive6(keyed, 0, { local: local6, remote: remote6, key: 9 })).toBe(56);
    expect(keyed.subarray(0, 8).toString('hex')).toBe('200086dd00000009');
    expect(keyed.subarray(48).toString('hex')).toBe('2000000000000009');
    expect(() => buildGreKeepalive6(Buffer.alloc(47), 0, { local: local6, remote: remote6 })).toThrow(RangeError);
  });

  it('the peer finds the inner GRE to send back, and nothing in ordinary traffic', () => {
    const sent = Buffer.from(EXPECTED, 'hex');
    expect(decodeGreKeepalive6(sent, 4, 44)).toEqual({ ok: true, srcOffset: 12, dstOffset: 28, key: undefined, greOffset: 44, greLength: 4 });
    const icmp = Buffer.from(EXPECTED, 'hex');
    icmp[10] = 58;
    expect(decodeGreKeepalive6(icmp, 4, 44)).toMatchObject({ ok: false, reason: 'not-keepalive' });
    expect(decodeGreKeepalive6(Buffer.from(EXPECTED.slice(0, 60), 'hex'), 4, 26)).toMatchObject({ ok: false, reason: 'not-keepalive' });
    const data = Buffer.from(EXPECTED, 'hex');
    data.writeUInt16BE(0x0800, 46);
    expect(decodeGreKeepalive6(data, 4, 44)).toMatchObject({ ok: false, reason: 'not-keepalive' });
  });
});
