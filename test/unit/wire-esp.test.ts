import { describe, expect, it } from 'vitest';
import { decodeEspHeader, espPacketLength } from '../../shared/wire/index.js';
import { RFC4106_VECTORS, RFC7634_VECTOR } from '../fixtures/esp-test-vectors.js';

describe('decodeEspHeader', () => {
  it.each([...RFC4106_VECTORS.filter((v) => v.spi !== 0), RFC7634_VECTOR])('reads the SPI and sequence number of $name', (vector) => {
    const packet = Buffer.from(vector.packet, 'hex');
    const framed = Buffer.concat([Buffer.alloc(20, 0xee), packet, Buffer.alloc(5, 0xee)]);
    expect(decodeEspHeader(framed, 20, packet.length)).toEqual({
      ok: true,
      spi: vector.spi,
      sequence: vector.sequence,
      ivOffset: 28,
      ciphertextOffset: 36,
      ciphertextLength: packet.length - 32,
    });
    expect(framed.subarray(28, 36).toString('hex')).toBe(vector.iv);
  });

  it('takes SPI 0 for what RFC 3948 makes it on UDP 4500: the non-ESP marker of IKE, not ESP', () => {
    const vector = RFC4106_VECTORS.find((v) => v.spi === 0)!;
    expect(decodeEspHeader(Buffer.from(vector.packet, 'hex'))).toEqual({ ok: false, reason: 'unsupported-protocol' });
  });

  it('refuses what cannot hold a header, an IV, pad length, next header and an ICV', () => {
    const shortest = Buffer.alloc(34, 1);
    expect(decodeEspHeader(shortest).ok).toBe(true);
    expect(decodeEspHeader(shortest, 0, 33)).toEqual({ ok: false, reason: 'truncated' });
    expect(decodeEspHeader(Buffer.from([0xff]))).toEqual({ ok: false, reason: 'truncated' });
    expect(decodeEspHeader(shortest, 30, 10)).toMatchObject({ ok: false, reason: 'truncated' });
  });
});

describe('espPacketLength', () => {
  it('adds header, IV, padding to 4 with pad length and next header, and the ICV (RFC 4303 §2.4)', () => {
    expect([0, 1, 2, 3, 4, 84, 1400, 1476].map(espPacketLength)).toEqual([36, 36, 36, 40, 40, 120, 1436, 1512]);
    for (const vector of [...RFC4106_VECTORS, RFC7634_VECTOR]) {
      expect(espPacketLength(vector.payload.length / 2)).toBe(vector.packet.length / 2);
    }
  });
});
