import { describe, expect, it } from 'vitest';
import {
  buildGreKeepalive,
  decodeGre,
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
