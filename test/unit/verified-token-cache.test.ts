import { describe, expect, it } from 'vitest';
import { VerifiedTokenCache } from '../../server/auth/verified-token-cache.js';

describe('VerifiedTokenCache', () => {
  it('answers a token until its expiry, then forgets it', () => {
    const cache = new VerifiedTokenCache<string>();
    cache.set('a.b.c', 'alice', 1_000);
    expect(cache.get('a.b.c', 999)).toBe('alice');
    expect(cache.get('a.b.d', 999)).toBeUndefined();
    expect(cache.get('a.b.c', 1_000)).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('holds at most maxEntries, dropping the oldest first', () => {
    const cache = new VerifiedTokenCache<number>(3);
    for (let i = 0; i < 5; i++) cache.set(`t${i}`, i, 10_000);
    expect(cache.size).toBe(3);
    expect([0, 1, 2, 3, 4].map((i) => cache.get(`t${i}`, 0))).toEqual([undefined, undefined, 2, 3, 4]);
  });

  it('a token set again counts as the newest', () => {
    const cache = new VerifiedTokenCache<number>(2);
    cache.set('t0', 0, 10_000);
    cache.set('t1', 1, 10_000);
    cache.set('t0', 0, 10_000);
    cache.set('t2', 2, 10_000);
    expect([cache.get('t0', 0), cache.get('t1', 0), cache.get('t2', 0)]).toEqual([0, undefined, 2]);
  });
});
