import { hkdfSync } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { deriveLinkSaPair, LINK_SPI_BASE, linkSpi } from '../../server/control/link-sa-keys.js';
import { errorCodeOf, refusalOf } from '../helpers/error-code.js';

const MASTER = Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex');

describe('link SA keys', () => {
  it('derives each SA with HKDF-SHA256 over the link, the epoch, the AEAD and the direction', () => {
    const pair = deriveLinkSaPair(MASTER, { kind: 'member', linkId: 7 }, 12, 'aes-gcm');
    // Recomputed here from RFC 5869's definition as node implements it, with the info spelled out.
    const expected = Buffer.from(hkdfSync('sha256', MASTER, Buffer.from('tunnel-coordinator esp sa v1'), 'member-link 7 epoch 12 aes-gcm first-to-second', 36));
    expect(pair.firstToSecond.key.equals(expected)).toBe(true);
    expect(pair.firstToSecond.key).toHaveLength(36);
    expect(pair).toMatchObject({ epoch: 12, aead: 'aes-gcm', firstToSecond: { spi: LINK_SPI_BASE + 24 }, secondToFirst: { spi: LINK_SPI_BASE + 25 } });
    // The same inputs give the same keys: another hub, or this one after a restart, agrees.
    expect(deriveLinkSaPair(MASTER, { kind: 'member', linkId: 7 }, 12, 'aes-gcm')).toEqual(pair);
  });

  it('gives every (link, epoch, direction, AEAD) a key and an SPI of its own, and another master other keys', () => {
    const input = fc.record({
      kind: fc.constantFrom('member' as const, 'hub' as const), id: fc.integer({ min: 1, max: 1000 }), epoch: fc.integer({ min: 1, max: 100_000 }),
      aead: fc.constantFrom('aes-gcm' as const, 'chacha20-poly1305' as const),
    });
    fc.assert(fc.property(input, input, (a, b) => {
      const ref = (x: typeof a) => (x.kind === 'member' ? { kind: 'member' as const, linkId: x.id } : { kind: 'hub' as const, hubLinkId: x.id });
      const pa = deriveLinkSaPair(MASTER, ref(a), a.epoch, a.aead);
      const pb = deriveLinkSaPair(MASTER, ref(b), b.epoch, b.aead);
      expect(pa.firstToSecond.key.equals(pa.secondToFirst.key)).toBe(false);
      expect(pa.firstToSecond.spi).not.toBe(pa.secondToFirst.spi);
      const same = a.kind === b.kind && a.id === b.id && a.epoch === b.epoch && a.aead === b.aead;
      expect(pa.firstToSecond.key.equals(pb.firstToSecond.key)).toBe(same);
      expect(pa.firstToSecond.key.equals(pb.secondToFirst.key)).toBe(false);
      // SPIs come from the epoch alone: epochs are unique in the registry, so SPIs are too.
      expect(pa.firstToSecond.spi === pb.firstToSecond.spi).toBe(a.epoch === b.epoch);
    }), { numRuns: 200 });
    const other = deriveLinkSaPair(Buffer.alloc(32, 9), { kind: 'member', linkId: 7 }, 12, 'aes-gcm');
    expect(other.firstToSecond.key.equals(deriveLinkSaPair(MASTER, { kind: 'member', linkId: 7 }, 12, 'aes-gcm').firstToSecond.key)).toBe(false);
  });

  it('refuses a short master key and epochs outside the SPI space, naming no key byte', () => {
    const short = Buffer.from('aabbccdd', 'hex');
    const { code, message } = refusalOf(() => deriveLinkSaPair(short, { kind: 'member', linkId: 1 }, 1, 'aes-gcm'));
    expect(code).toBe('ERR_INVALID_KEY');
    expect(message).toMatch(/32 bytes/);
    expect(message).not.toContain('aabbccdd');
    expect(errorCodeOf(() => linkSpi(0, 'first-to-second'))).toBe('ERR_INVALID_ARGUMENT');
    expect(errorCodeOf(() => linkSpi(2 ** 31, 'second-to-first'))).toBe('ERR_INVALID_ARGUMENT');
    expect(linkSpi(1, 'first-to-second')).toBeGreaterThanOrEqual(256);
  });
});
