import { describe, expect, it } from 'vitest';
import { ipv4ToNumber } from '../../shared/wire/ipv4-address.js';
import {
  decodeUdpHello, decodeUdpHelloFrame, GUE_HELLO_CTYPE, isUdpHelloBody, sealUdpHello, sealUdpHelloFrame,
  UDP_HELLO_LENGTH, udpHelloKeyProblem, verifyUdpHelloMac, type UdpHelloFields,
} from '../../shared/wire/udp-hello.js';

// A fixed test key: bytes 0x00..0x1f. The expected MACs below were computed independently with
// Python's hmac module (HMAC-SHA256 over the first 28 bytes, first 16 bytes kept).
const KEY = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
const HELLO_HEX = '54484c4f01010000010203040123456789abcdefc0a84d02129200001795463cac957f049ea1efd14949bf89';
const ACK_HEX = '54484c4f02010000010203040123456789abcdefc00002149c410000f5ce5b58700f5609da4e526e8975fe8b';
const BARE_HEX = '54484c4f010000000000000700000000000000010000000000000000b47179bc680d4ffe4103279b1ecc278c';

const hello: UdpHelloFields = {
  kind: 'hello', bindingId: 0x01020304, counter: 0x0123456789abcdefn, view: { address: ipv4ToNumber('192.168.77.2'), port: 4754 },
};

describe('UDP hello body', () => {
  it('seals a hello to the documented bytes (MAC checked against an independent HMAC)', () => {
    const buf = Buffer.alloc(UDP_HELLO_LENGTH);
    expect(sealUdpHello(buf, 0, hello, KEY)).toBe(44);
    expect(buf.toString('hex')).toBe(HELLO_HEX);
  });

  it('seals an ack and a hello without a view', () => {
    const ack = Buffer.alloc(UDP_HELLO_LENGTH);
    sealUdpHello(ack, 0, { kind: 'ack', bindingId: 0x01020304, counter: 0x0123456789abcdefn, view: { address: ipv4ToNumber('192.0.2.20'), port: 40001 } }, KEY);
    expect(ack.toString('hex')).toBe(ACK_HEX);
    const bare = Buffer.alloc(UDP_HELLO_LENGTH);
    sealUdpHello(bare, 0, { kind: 'hello', bindingId: 7, counter: 1n, view: null }, KEY);
    expect(bare.toString('hex')).toBe(BARE_HEX);
  });

  it('decodes the fixtures back, with the MAC offset inside the window', () => {
    const buf = Buffer.concat([Buffer.from('ffff', 'hex'), Buffer.from(HELLO_HEX, 'hex')]);
    expect(decodeUdpHello(buf, 2, 44)).toEqual({ ok: true, ...hello, macOffset: 30 });
    expect(decodeUdpHello(Buffer.from(BARE_HEX, 'hex'), 0, 44)).toEqual({ ok: true, kind: 'hello', bindingId: 7, counter: 1n, view: null, macOffset: 28 });
    expect(decodeUdpHello(Buffer.from(ACK_HEX, 'hex'), 0, 44)).toMatchObject({ ok: true, kind: 'ack', view: { address: ipv4ToNumber('192.0.2.20'), port: 40001 } });
  });

  it('round-trips the extremes of every field', () => {
    for (const counter of [0n, 1n, 0xffff_ffffn, 0x1_0000_0000n, (1n << 64n) - 1n]) {
      for (const fields of [
        { kind: 'hello' as const, bindingId: 0, counter, view: null },
        { kind: 'ack' as const, bindingId: 0xffff_ffff, counter, view: { address: 0xffff_ffff, port: 65535 } },
      ]) {
        const buf = Buffer.alloc(50);
        sealUdpHello(buf, 3, fields, KEY);
        expect(decodeUdpHello(buf, 3, 44)).toEqual({ ok: true, ...fields, macOffset: 31 });
        expect(verifyUdpHelloMac(buf, 3, KEY)).toBe(true);
      }
    }
  });

  it('verifies the MAC only with the right key, and fails on any flipped bit', () => {
    const buf = Buffer.from(HELLO_HEX, 'hex');
    expect(verifyUdpHelloMac(buf, 0, KEY)).toBe(true);
    const otherKey = Buffer.from(KEY);
    otherKey[31]! ^= 1;
    expect(verifyUdpHelloMac(buf, 0, otherKey)).toBe(false);
    for (let bit = 0; bit < 44 * 8; bit++) {
      const flipped = Buffer.from(buf);
      flipped[bit >> 3]! ^= 1 << (bit & 7);
      expect(verifyUdpHelloMac(flipped, 0, KEY), `bit ${bit}`).toBe(false);
    }
    expect(verifyUdpHelloMac(buf.subarray(0, 43), 0, KEY)).toBe(false);
  });

  it('refuses malformed bodies with a typed reason', () => {
    const good = Buffer.from(HELLO_HEX, 'hex');
    const edit = (at: number, value: number): Buffer => {
      const b = Buffer.from(good);
      b[at] = value;
      return b;
    };
    expect(decodeUdpHello(good, 0, 3)).toEqual({ ok: false, reason: 'truncated' });
    expect(decodeUdpHello(good, 0, 43)).toEqual({ ok: false, reason: 'truncated' });
    expect(decodeUdpHello(edit(0, 0x55), 0, 44)).toEqual({ ok: false, reason: 'not-hello' });
    expect(decodeUdpHello(edit(4, 3), 0, 44)).toEqual({ ok: false, reason: 'not-hello' });
    expect(decodeUdpHello(edit(5, 2), 0, 44)).toEqual({ ok: false, reason: 'not-hello' });
    expect(decodeUdpHello(edit(7, 1), 0, 44)).toEqual({ ok: false, reason: 'not-hello' });
    expect(decodeUdpHello(edit(27, 1), 0, 44)).toEqual({ ok: false, reason: 'not-hello' });
    // View bytes without the view flag.
    expect(decodeUdpHello(edit(5, 0), 0, 44)).toMatchObject({ ok: false, reason: 'not-hello' });
    expect(decodeUdpHello(good, 40, 10)).toMatchObject({ ok: false, reason: 'truncated' });
    expect(decodeUdpHello(good, -1, 44)).toMatchObject({ ok: false, reason: 'truncated' });
  });

  it('refuses caller bugs with RangeError: no room, counter outside 64 bits, short key', () => {
    expect(() => sealUdpHello(Buffer.alloc(43), 0, hello, KEY)).toThrow(RangeError);
    expect(() => sealUdpHello(Buffer.alloc(44), 0, { ...hello, counter: 1n << 64n }, KEY)).toThrow(RangeError);
    expect(() => sealUdpHello(Buffer.alloc(44), 0, { ...hello, counter: -1n }, KEY)).toThrow(RangeError);
    expect(() => sealUdpHello(Buffer.alloc(44), 0, hello, KEY.subarray(0, 15))).toThrow(RangeError);
  });

  it('says why a key is unusable by its length only', () => {
    expect(udpHelloKeyProblem(KEY)).toBeNull();
    expect(udpHelloKeyProblem(Buffer.alloc(16))).toBeNull();
    expect(udpHelloKeyProblem(Buffer.alloc(64))).toBeNull();
    expect(udpHelloKeyProblem(Buffer.alloc(15))).toBe('the session key must be 16..64 bytes, not 15');
    expect(udpHelloKeyProblem(Buffer.alloc(65))).toBe('the session key must be 16..64 bytes, not 65');
    expect(udpHelloKeyProblem('secret')).toBe('the session key must be a Buffer');
  });
});

describe('UDP hello framing', () => {
  it('frames a fou hello as GRE type 0 (with the key when the tunnel has one) and finds it again', () => {
    const buf = Buffer.alloc(60);
    expect(sealUdpHelloFrame(buf, 0, { encap: 'fou', greKey: null }, hello, KEY)).toBe(48);
    expect(buf.subarray(0, 48).toString('hex')).toBe(`00000000${HELLO_HEX}`);
    expect(decodeUdpHelloFrame(buf, 0, 48)).toEqual({ ok: true, encap: 'fou', greKey: null, payloadOffset: 4, payloadLength: 44 });
    expect(sealUdpHelloFrame(buf, 0, { encap: 'fou', greKey: 0x1234 }, hello, KEY)).toBe(52);
    expect(buf.subarray(0, 8).toString('hex')).toBe('2000000000001234');
    expect(decodeUdpHelloFrame(buf, 0, 52)).toEqual({ ok: true, encap: 'fou', greKey: 0x1234, payloadOffset: 8, payloadLength: 44 });
  });

  it(`frames a gue hello as a control message of type ${GUE_HELLO_CTYPE} and finds it again`, () => {
    const buf = Buffer.alloc(48);
    expect(sealUdpHelloFrame(buf, 0, { encap: 'gue', greKey: null }, hello, KEY)).toBe(48);
    expect(buf.toString('hex')).toBe(`20020000${HELLO_HEX}`);
    expect(decodeUdpHelloFrame(buf, 0, 48)).toEqual({ ok: true, encap: 'gue', greKey: null, payloadOffset: 4, payloadLength: 44 });
  });

  it('never takes tunnel data or a keepalive for a hello', () => {
    const frames = [
      '000008004500001c000000004001f97cc0000201c0000202', // fou: GRE carrying IPv4
      '00000000544b414c0100000000000001deadbeef', // fou: UDP keepalive probe
      '20010000544b414c0100000000000001deadbeef', // gue: keepalive control message
      '00040000450000140000000040000000', // gue: data, IPv4 inside
      `00040000${HELLO_HEX}`, // gue data whose payload happens to hold hello bytes
      `00000800${HELLO_HEX}`, // GRE IPv4 data whose payload happens to hold hello bytes
      `20010000${HELLO_HEX}`, // gue keepalive ctype with a hello body
    ];
    for (const hex of frames) {
      const buf = Buffer.from(hex, 'hex');
      expect(decodeUdpHelloFrame(buf, 0, buf.length), hex).toMatchObject({ ok: false });
    }
    expect(isUdpHelloBody(Buffer.from(HELLO_HEX, 'hex'), 0, 44)).toBe(true);
    expect(isUdpHelloBody(Buffer.from('544b414c', 'hex'), 0, 4)).toBe(false);
    expect(isUdpHelloBody(Buffer.from(HELLO_HEX, 'hex'), 0, 3)).toBe(false);
  });

  it('reports the framing decoder’s own reason for broken framings', () => {
    expect(decodeUdpHelloFrame(Buffer.from('0000', 'hex'), 0, 2)).toEqual({ ok: false, reason: 'truncated' });
    expect(decodeUdpHelloFrame(Buffer.from(`00010000${HELLO_HEX}`, 'hex'), 0, 48)).toEqual({ ok: false, reason: 'bad-version' });
    expect(decodeUdpHelloFrame(Buffer.from(`20020001${HELLO_HEX}`, 'hex'), 0, 48)).toMatchObject({ ok: false, reason: 'bad-header-length' });
  });
});
