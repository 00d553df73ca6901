import { describe, expect, it } from 'vitest';
import { decodeFou, decodeGue, encodeGueHeader, FOU_GRE_PORT, GUE_HEADER_LENGTH } from '../../shared/wire/index.js';

const INNER_V4 = '4500001c00004000400126df0a0000010a000002' + '0800f7ff00000000'; // ICMP echo, 28 bytes
const INNER_V6 = '6000000000083a40' + 'fd000000000000000000000000000001' + 'fd000000000000000000000000000002' + '8000000000000000';
const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('decodeFou', () => {
  it('uses the RFC 8086 port', () => {
    expect(FOU_GRE_PORT).toBe(4754);
  });

  it('ipproto 47: the UDP payload is a GRE header then the inner packet', () => {
    const udpPayload = hex('2000 0800 00000005' + INNER_V4);
    expect(decodeFou(udpPayload, 0, udpPayload.length, 47)).toMatchObject({
      ok: true,
      ipproto: 47,
      gre: { ok: true, keyPresent: true, key: 5, protocolType: 0x0800, headerLength: 8 },
      payloadOffset: 8,
      payloadLength: 28,
    });
  });

  it('ipproto 47 passes GRE refusals through', () => {
    const bad = hex('0001 0800' + INNER_V4);
    expect(decodeFou(bad, 0, bad.length, 47)).toMatchObject({ ok: false, reason: 'bad-version' });
  });

  it('ipproto 4: the UDP payload is the bare inner IPv4 packet', () => {
    const udpPayload = hex('ffff' + INNER_V4);
    expect(decodeFou(udpPayload, 2, 28, 4)).toEqual({ ok: true, ipproto: 4, gre: undefined, payloadOffset: 2, payloadLength: 28 });
    expect(decodeFou(hex(INNER_V6), 0, 48, 4)).toMatchObject({ ok: false, reason: 'bad-version' });
    expect(decodeFou(hex(INNER_V4).subarray(0, 19), 0, 19, 4)).toMatchObject({ ok: false, reason: 'truncated' });
  });

  it('ipproto 41: the UDP payload is the bare inner IPv6 packet', () => {
    const udpPayload = hex(INNER_V6);
    expect(decodeFou(udpPayload, 0, udpPayload.length, 41)).toMatchObject({ ok: true, ipproto: 41, payloadOffset: 0, payloadLength: 48 });
    expect(decodeFou(udpPayload, 0, udpPayload.length - 1, 41)).toMatchObject({ ok: false, reason: 'bad-total-length' });
  });

  it('rejects an ipproto it does not know', () => {
    const udpPayload = hex(INNER_V4);
    expect(decodeFou(udpPayload, 0, 28, 17 as 4)).toMatchObject({ ok: false, reason: 'unsupported-protocol' });
  });
});

describe('decodeGue', () => {
  it('decodes a data message carrying GRE, as Linux `encap gue` sends it (Hlen 0, flags 0)', () => {
    const udpPayload = hex('00 2f 0000' + '0000 0800' + INNER_V4);
    expect(decodeGue(udpPayload)).toEqual({
      ok: true,
      variant: 0,
      control: false,
      protocol: 47,
      flags: 0,
      headerLength: 4,
      payloadOffset: 4,
      payloadLength: 32,
    });
  });

  it('decodes a data message carrying IPIP', () => {
    expect(decodeGue(hex('00 04 0000' + INNER_V4))).toMatchObject({ ok: true, variant: 0, protocol: 4, payloadOffset: 4, payloadLength: 28 });
  });

  it('decodes a control message (C bit) with its ctype', () => {
    expect(decodeGue(hex('20 7f 0000 0102030405060708'))).toMatchObject({
      ok: true,
      variant: 0,
      control: true,
      protocol: 0x7f,
      headerLength: 4,
      payloadLength: 8,
    });
  });

  it('skips Hlen words of extension fields', () => {
    expect(decodeGue(hex('02 2f 0001 00000000 00000000 0000 0800'))).toMatchObject({
      ok: true,
      flags: 1,
      headerLength: 12,
      payloadOffset: 12,
      payloadLength: 4,
    });
    expect(decodeGue(hex('1f 2f 0000 00000000'))).toMatchObject({ ok: false, reason: 'truncated' });
  });

  it('drops flags Linux does not understand, and a P flag without room for private flags', () => {
    expect(decodeGue(hex('00 2f 8000 0000 0800'))).toMatchObject({ ok: false, reason: 'bad-flags' });
    expect(decodeGue(hex('00 2f 0001 0000 0800'))).toMatchObject({ ok: false, reason: 'bad-header-length' });
  });

  it('decodes variant 1: direct IPv4 and IPv6 with no GUE header', () => {
    expect(decodeGue(hex(INNER_V4))).toEqual({
      ok: true,
      variant: 1,
      control: false,
      protocol: 4,
      flags: 0,
      headerLength: 0,
      payloadOffset: 0,
      payloadLength: 28,
    });
    expect(decodeGue(hex(INNER_V6))).toMatchObject({ ok: true, variant: 1, protocol: 41, payloadLength: 48 });
    expect(decodeGue(hex('5000 0000'))).toMatchObject({ ok: false, reason: 'unsupported-protocol' });
  });

  it('drops GUE versions 2 and 3 and short headers', () => {
    expect(decodeGue(hex('80 2f 0000'))).toMatchObject({ ok: false, reason: 'bad-version' });
    expect(decodeGue(hex('c0 2f 0000'))).toMatchObject({ ok: false, reason: 'bad-version' });
    expect(decodeGue(hex('00 2f 00'))).toMatchObject({ ok: false, reason: 'truncated' });
    expect(decodeGue(hex(''))).toMatchObject({ ok: false, reason: 'truncated' });
  });
});

describe('encodeGueHeader', () => {
  it('writes data and control headers that round-trip', () => {
    const out = Buffer.alloc(6, 0xaa);
    expect(encodeGueHeader(out, 1, { protocol: 47 })).toBe(GUE_HEADER_LENGTH);
    expect(out.toString('hex')).toBe('aa002f0000aa');
    expect(decodeGue(out, 1, 5)).toMatchObject({ ok: true, variant: 0, control: false, protocol: 47, payloadLength: 1 });
    encodeGueHeader(out, 0, { control: true, protocol: 0x81, flags: 0 });
    expect(out.subarray(0, 4).toString('hex')).toBe('20810000');
    expect(decodeGue(out)).toMatchObject({ ok: true, control: true, protocol: 0x81, payloadOffset: 4, payloadLength: 2 });
  });
});
