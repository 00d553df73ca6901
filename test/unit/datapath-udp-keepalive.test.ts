import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeUdpKeepalive, encodeUdpKeepalive, UDP_KEEPALIVE_LENGTH } from '../../shared/wire/udp-keepalive.js';

describe('UDP keepalive body', () => {
  it('encodes to the documented bytes and decodes back', () => {
    const buf = Buffer.alloc(UDP_KEEPALIVE_LENGTH);
    encodeUdpKeepalive(buf, 0, { kind: 'probe', sequence: 1, nonce: 0xdeadbeef });
    expect(buf.toString('hex')).toBe('544b414c0100000000000001deadbeef');
    expect(decodeUdpKeepalive(buf, 0, buf.length)).toEqual({ ok: true, kind: 'probe', sequence: 1, nonce: 0xdeadbeef });
  });

  it('refuses anything else with a typed reason, never throwing', () => {
    expect(decodeUdpKeepalive(Buffer.from('544b414c03000000', 'hex'), 0, 8)).toMatchObject({ ok: false, reason: 'truncated' });
    expect(decodeUdpKeepalive(Buffer.from('544b414c0300000000000001deadbeef', 'hex'), 0, 16)).toMatchObject({ ok: false, reason: 'not-keepalive' });
    fc.assert(fc.property(fc.uint8Array({ maxLength: 40 }), fc.integer({ min: -2, max: 42 }), fc.integer({ min: -2, max: 42 }), (bytes, offset, length) => {
      const result = decodeUdpKeepalive(bytes, offset, length);
      expect(typeof result.ok).toBe('boolean');
    }), { numRuns: 100_000 });
  });
});
