import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hubLinkSwitch, type HubLinkWatch } from '../../server/cluster/hub-link-encap-switch.js';

const T0 = Date.UTC(2026, 0, 1);
const watch = (over: Partial<HubLinkWatch> = {}): HubLinkWatch => ({
  encap: 'gre', pinned: false, liveness: 'down', quietSince: T0, now: T0 + 30_000, otherHubUp: true,
  keepaliveInterval: 10, keepaliveRetries: 3, ...over,
});

const arbitraryWatch = fc.record({
  encap: fc.constantFrom('gre' as const, 'fou' as const),
  pinned: fc.boolean(),
  liveness: fc.constantFrom('up' as const, 'down' as const, null),
  quietSince: fc.integer({ min: T0, max: T0 + 1_000_000 }),
  now: fc.integer({ min: T0, max: T0 + 2_000_000 }),
  otherHubUp: fc.boolean(),
  keepaliveInterval: fc.integer({ min: 0, max: 60 }),
  keepaliveRetries: fc.integer({ min: 1, max: 10 }),
});

describe('when a hub link moves to the other encapsulation', () => {
  it('moves GRE to FOU once keepalives went unanswered for retries x interval, and FOU back to GRE alike', () => {
    expect(hubLinkSwitch(watch())).toEqual({ from: 'gre', to: 'fou', reason: 'gre-unanswered' });
    expect(hubLinkSwitch(watch({ encap: 'fou' }))).toEqual({ from: 'fou', to: 'gre', reason: 'fou-unanswered' });
    expect(hubLinkSwitch(watch({ now: T0 + 29_999 }))).toBeNull();
    expect(hubLinkSwitch(watch({ keepaliveInterval: 1, now: T0 + 3_000 }))).toMatchObject({ to: 'fou' });
  });

  it('never moves a pinned link, a working one, one without keepalives, or one whose other hub is down', () => {
    expect(hubLinkSwitch(watch({ pinned: true }))).toBeNull();
    expect(hubLinkSwitch(watch({ liveness: 'up' }))).toBeNull();
    expect(hubLinkSwitch(watch({ liveness: null }))).toBeNull();
    expect(hubLinkSwitch(watch({ keepaliveInterval: 0 }))).toBeNull();
    expect(hubLinkSwitch(watch({ otherHubUp: false }))).toBeNull();
  });

  it('(property) moves only unpinned, down links of a live hub after the full quiet period, always to the other encapsulation', () => {
    fc.assert(fc.property(arbitraryWatch, (w) => {
      const result = hubLinkSwitch(w);
      const due = !w.pinned && w.liveness === 'down' && w.otherHubUp && w.keepaliveInterval > 0
        && w.now - w.quietSince >= w.keepaliveRetries * w.keepaliveInterval * 1000;
      expect(result !== null).toBe(due);
      if (result) {
        expect(result.from).toBe(w.encap);
        expect(result.to).not.toBe(w.encap);
        expect(result.reason).toBe(`${w.encap}-unanswered`);
      }
    }));
  });

  it('(property) a link heard later never moves sooner: pushing quietSince forward cannot make a switch due', () => {
    fc.assert(fc.property(arbitraryWatch, fc.integer({ min: 0, max: 1_000_000 }), (w, later) => {
      if (hubLinkSwitch(w) === null) expect(hubLinkSwitch({ ...w, quietSince: w.quietSince + later })).toBeNull();
    }));
  });
});
