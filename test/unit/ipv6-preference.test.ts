import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IPV6_RETRY_AFTER_MS, Ipv6Preference } from '../../client/session/ipv6-preference.js';

const T0 = 1_000_000;

describe('Ipv6Preference', () => {
  it('allows IPv6 until it fails', () => {
    const preference = new Ipv6Preference();
    expect(preference.allows(0)).toBe(true);
    expect(preference.allows(T0)).toBe(true);
  });

  it('keeps to IPv4 for the retry period after a failed IPv6 connection, while IPv4 works', () => {
    const preference = new Ipv6Preference();
    preference.giveUp(T0, 'connect');
    preference.welcomed(); // IPv4 connected: the IPv6 path was at fault
    expect(preference.allows(T0 + 1)).toBe(false);
    expect(preference.allows(T0 + IPV6_RETRY_AFTER_MS - 1)).toBe(false);
    expect(preference.allows(T0 + IPV6_RETRY_AFTER_MS)).toBe(true);
  });

  it('allows IPv6 again at once when IPv4 fails right after a failed IPv6 connection (the hub was down)', () => {
    const preference = new Ipv6Preference();
    preference.giveUp(T0, 'connect');
    expect(preference.allows(T0 + 1)).toBe(false);
    preference.ipv4Failed();
    expect(preference.allows(T0 + 1)).toBe(true);
  });

  it('does not lift a give-up that IPv4 confirmed by connecting, when IPv4 fails later', () => {
    const preference = new Ipv6Preference();
    preference.giveUp(T0, 'connect');
    preference.welcomed();
    preference.ipv4Failed();
    expect(preference.allows(T0 + 1)).toBe(false);
  });

  it('keeps to IPv4 after "no encapsulation answered over IPv6", even when the hub then goes away', () => {
    const preference = new Ipv6Preference();
    preference.giveUp(T0, 'unanswered');
    preference.ipv4Failed();
    expect(preference.allows(T0 + 1)).toBe(false);
    expect(preference.allows(T0 + IPV6_RETRY_AFTER_MS)).toBe(true);
  });

  it('lifts only the give-up IPv4 failed right after: a second IPv4 failure changes nothing', () => {
    const preference = new Ipv6Preference();
    preference.giveUp(T0, 'connect');
    preference.ipv4Failed();
    preference.giveUp(T0 + 10, 'unanswered');
    preference.ipv4Failed();
    expect(preference.allows(T0 + 11)).toBe(false);
  });

  it('never keeps IPv6 away longer than the retry period after the last give-up, whatever happens', () => {
    const event = fc.oneof(
      fc.record({ kind: fc.constant('giveUp' as const), why: fc.constantFrom('connect' as const, 'unanswered' as const), dt: fc.nat(IPV6_RETRY_AFTER_MS * 2) }),
      fc.record({ kind: fc.constantFrom('ipv4Failed' as const, 'welcomed' as const), dt: fc.nat(1_000) }),
    );
    fc.assert(fc.property(fc.array(event, { maxLength: 30 }), (events) => {
      const preference = new Ipv6Preference();
      let now = T0;
      let lastGiveUp: number | undefined;
      for (const e of events) {
        now += e.dt;
        if (e.kind === 'giveUp') {
          preference.giveUp(now, e.why);
          lastGiveUp = now;
          // A give-up always holds right after it is made.
          expect(preference.allows(now)).toBe(false);
        } else if (e.kind === 'ipv4Failed') preference.ipv4Failed();
        else preference.welcomed();
      }
      const horizon = (lastGiveUp ?? T0) + IPV6_RETRY_AFTER_MS;
      expect(preference.allows(Math.max(now, horizon))).toBe(true);
    }));
  });
});
