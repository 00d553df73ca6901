import { describe, expect, it } from 'vitest';
import { internetChecksum, onesComplementSum, updateChecksum16 } from '../../shared/wire/index.js';

describe('internet checksum (RFC 1071)', () => {
  it('matches the RFC 1071 §3 worked example', () => {
    const bytes = Buffer.from('0001f203f4f5f6f7', 'hex');
    expect(onesComplementSum(bytes, 0, bytes.length)).toBe(0xddf2);
    expect(internetChecksum(bytes, 0, bytes.length)).toBe(0x220d);
  });

  it('pads an odd trailing byte with zero', () => {
    expect(onesComplementSum(Buffer.from('0102ab', 'hex'), 0, 3)).toBe(0xac02);
    // 0x0102 + 0xff00 = 0x10002: the end-around carry folds it to 0x0003.
    expect(onesComplementSum(Buffer.from('0102ff', 'hex'), 0, 3)).toBe(0x0003);
  });

  it('chains partial sums through initial', () => {
    const bytes = Buffer.from('45000073000040004011c0a80001c0a800c7', 'hex');
    const whole = internetChecksum(bytes, 0, bytes.length);
    const firstHalf = onesComplementSum(bytes, 0, 8);
    expect(internetChecksum(bytes, 8, bytes.length - 8, firstHalf)).toBe(whole);
  });

  it('reads only its window', () => {
    const bytes = Buffer.from('ffff0001f203f4f5f6f7ffff', 'hex');
    expect(internetChecksum(bytes, 2, 8)).toBe(0x220d);
  });

  it('folds carries over long buffers like a reference 32-bit implementation', () => {
    const big = Buffer.alloc(200_001);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7919 + 13) & 0xff;
    let ref = 0;
    for (let i = 0; i + 1 < big.length; i += 2) ref = (ref + big.readUInt16BE(i)) % 0xffff;
    ref = (ref + (big[big.length - 1]! << 8)) % 0xffff;
    expect(onesComplementSum(big, 0, big.length) % 0xffff).toBe(ref);
  });

  it('updateChecksum16 equals a full recomputation (RFC 1624)', () => {
    const bytes = Buffer.from('45000073000040004011b861c0a80001c0a800c7', 'hex');
    expect(internetChecksum(bytes, 0, 20)).toBe(0);
    // Decrement the TTL (byte 8, high half of the TTL/protocol word): the router case of RFC 1624.
    const oldWord = bytes.readUInt16BE(8);
    bytes[8] = bytes[8]! - 1;
    const updated = updateChecksum16(0xb861, oldWord, bytes.readUInt16BE(8));
    bytes.writeUInt16BE(0, 10);
    expect(updated).toBe(internetChecksum(bytes, 0, 20));
  });

  it('updateChecksum16 agrees with recomputation on random words', () => {
    const bytes = Buffer.alloc(40);
    let seed = 12345;
    const next = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xffff;
    for (let round = 0; round < 2000; round++) {
      for (let i = 0; i < 40; i += 2) bytes.writeUInt16BE(next(), i);
      bytes.writeUInt16BE(0, 0);
      const before = internetChecksum(bytes, 0, 40);
      const at = 2 + 2 * (round % 19);
      const oldWord = bytes.readUInt16BE(at);
      const newWord = next();
      bytes.writeUInt16BE(newWord, at);
      const full = internetChecksum(bytes, 0, 40);
      const incremental = updateChecksum16(before, oldWord, newWord);
      // 0x0000 and 0xffff are the same value in ones' complement; RFC 1624 §3 allows either.
      expect(incremental % 0xffff).toBe(full % 0xffff);
    }
  });
});
