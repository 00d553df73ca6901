import { describe, expect, it } from 'vitest';
import { DEFAULT_SOURCE_LIMITS, SourceLimits, sourceKey, type SourceLimitSettings } from '../../server/control/source-limits.js';

function limits(overrides: Partial<SourceLimitSettings> = {}): { limits: SourceLimits; clock: { now: number } } {
  const clock = { now: 1_000_000 };
  return { limits: new SourceLimits({ ...DEFAULT_SOURCE_LIMITS, ...overrides }, () => clock.now), clock };
}

describe('front-door limits per source', () => {
  it('admits a burst, then the sustained rate, per source', () => {
    const { limits: gate, clock } = limits({ connectRate: 10, connectBurst: 5, maxPendingPerSource: 1000, maxPerSource: 1000 });
    const verdicts = Array.from({ length: 7 }, () => gate.admit('203.0.113.7'));
    expect(verdicts).toEqual([undefined, undefined, undefined, undefined, undefined, 'rate', 'rate']);
    expect(gate.admit('203.0.113.8')).toBeUndefined();
    clock.now += 100; // 10/s: one more token
    expect(gate.admit('203.0.113.7')).toBeUndefined();
    expect(gate.admit('203.0.113.7')).toBe('rate');
  });

  it('caps open and not-yet-authenticated connections per source and for the door', () => {
    const { limits: gate } = limits({ connectBurst: 100, maxPendingPerSource: 2, maxPerSource: 3, maxPending: 4, maxConnections: 5 });
    expect(gate.admit('192.0.2.1')).toBeUndefined();
    expect(gate.admit('192.0.2.1')).toBeUndefined();
    expect(gate.admit('192.0.2.1')).toBe('source-pending');
    gate.authenticated('192.0.2.1');
    expect(gate.admit('192.0.2.1')).toBeUndefined();
    gate.authenticated('192.0.2.1');
    expect(gate.admit('192.0.2.1')).toBe('source-full');
    expect(gate.admit('192.0.2.2')).toBeUndefined();
    expect(gate.admit('192.0.2.3')).toBeUndefined();
    expect(gate.counts()).toMatchObject({ open: 5, pending: 3 });
    expect(gate.admit('192.0.2.4')).toBe('door-full');
    gate.closed('192.0.2.1', false);
    gate.closed('192.0.2.3', true);
    expect(gate.counts()).toMatchObject({ open: 3, pending: 2 });
    expect(gate.admit('192.0.2.4')).toBeUndefined();
    expect(gate.admit('192.0.2.5')).toBeUndefined();
    expect(gate.admit('192.0.2.6')).toBe('door-full');
  });

  it('refuses a door with too many connections mid-handshake, whoever they come from', () => {
    const { limits: gate } = limits({ maxPending: 2 });
    expect(gate.admit('192.0.2.1')).toBeUndefined();
    expect(gate.admit('192.0.2.2')).toBeUndefined();
    expect(gate.admit('192.0.2.3')).toBe('door-pending');
    gate.authenticated('192.0.2.2');
    expect(gate.admit('192.0.2.3')).toBeUndefined();
  });

  it('makes a source wait after its free failed logins, twice as long each time, up to the maximum', () => {
    const { limits: gate, clock } = limits({ freeFailures: 3, backoffBaseMs: 1000, backoffMaxMs: 4000 });
    for (let i = 0; i < 3; i++) gate.loginFailed('198.51.100.9');
    expect(gate.isBlocked('198.51.100.9')).toBe(false);
    gate.loginFailed('198.51.100.9');
    expect(gate.isBlocked('198.51.100.9')).toBe(true);
    expect(gate.admit('198.51.100.9')).toBe('login-backoff');
    expect(gate.admit('198.51.100.10')).toBeUndefined();
    clock.now += 1001;
    expect(gate.admit('198.51.100.9')).toBeUndefined();
    const waits: number[] = [];
    for (let i = 0; i < 4; i++) {
      gate.loginFailed('198.51.100.9');
      let waited = 0;
      while (gate.isBlocked('198.51.100.9')) {
        clock.now += 250;
        waited += 250;
      }
      waits.push(waited);
    }
    expect(waits).toEqual([2000, 4000, 4000, 4000]);
    expect(gate.counts().blocked).toBe(0);
  });

  it('forgets failures after a quiet time, and a successful login clears them', () => {
    const { limits: gate, clock } = limits({ freeFailures: 2, forgetAfterMs: 60_000 });
    gate.loginFailed('192.0.2.50');
    gate.loginFailed('192.0.2.50');
    clock.now += 60_001;
    gate.loginFailed('192.0.2.50');
    expect(gate.isBlocked('192.0.2.50')).toBe(false);
    gate.loginFailed('192.0.2.50');
    gate.loginFailed('192.0.2.50');
    expect(gate.isBlocked('192.0.2.50')).toBe(true);
    gate.loginSucceeded('192.0.2.50');
    expect(gate.isBlocked('192.0.2.50')).toBe(false);
    gate.loginFailed('192.0.2.50');
    expect(gate.isBlocked('192.0.2.50')).toBe(false);
  });

  it('remembers a bounded number of sources and forgets idle ones', () => {
    const { limits: gate, clock } = limits({ maxSources: 100 });
    for (let i = 0; i < 5000; i++) {
      const address = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
      gate.admit(address);
      gate.closed(address, true);
    }
    expect(gate.counts().sources).toBeLessThanOrEqual(100);
    expect(gate.counts()).toMatchObject({ open: 0, pending: 0 });
    clock.now += 60_000;
    gate.sweep();
    expect(gate.counts().sources).toBe(0);
  });

  it('keeps sources with open connections and waiting sources through a sweep', () => {
    const { limits: gate } = limits({ freeFailures: 0 });
    gate.admit('192.0.2.1');
    gate.loginFailed('192.0.2.2');
    gate.sweep();
    expect(gate.counts()).toMatchObject({ sources: 2, open: 1, blocked: 1 });
  });

  it('counts an IPv6 /64 as one source, and an IPv4-mapped address as its IPv4 address', () => {
    expect(sourceKey('2001:db8:1:2:aaaa::1')).toBe(sourceKey('2001:db8:1:2:ffff:1:2:3'));
    expect(sourceKey('2001:db8:1:2::1')).toBe('2001:db8:1:2::/64');
    expect(sourceKey('2001:db8:1:3::1')).not.toBe(sourceKey('2001:db8:1:2::1'));
    expect(sourceKey('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(sourceKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    const { limits: gate } = limits({ maxPendingPerSource: 1 });
    expect(gate.admit('2001:db8:1:2::1')).toBeUndefined();
    expect(gate.admit('2001:db8:1:2::2')).toBe('source-pending');
  });
});
