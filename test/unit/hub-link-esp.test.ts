import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_REKEY_GRACE_MS } from '../../server/control/link-sa-keeper.js';
import { HUB_LINK_SWITCH_DELAY_MS, HUB_START_REASON, hubLinkEsp } from '../../server/cluster/hub-link-esp.js';
import { deriveLinkSaPair, type LinkSaPair } from '../../server/control/link-sa-keys.js';
import type { SaEpochRecord } from '../../server/registry/link-sa-epoch-store.js';

const MASTER = Buffer.alloc(32, 3);
const T = 1_000_000;
const epoch = (n: number, createdAt: number, reason = 'interval'): SaEpochRecord => ({ epoch: n, aead: 'aes-gcm', reason, createdAt });
const pairs = (...epochs: SaEpochRecord[]): Map<number, LinkSaPair> =>
  new Map(epochs.map((e) => [e.epoch, deriveLinkSaPair(MASTER, { kind: 'hub', hubLinkId: 4 }, e.epoch, e.aead)]));

describe('hub<->hub link ESP on the epochs\' timestamps', () => {
  it.each([DEFAULT_REKEY_GRACE_MS, 3_000])('a rekey: both open the new epoch at once, seal with it after the switch delay, drop the old after the grace (%i ms)', (grace) => {
    const old = epoch(7, T - 3_600_000, HUB_START_REASON);
    const next = epoch(9, T);
    const keys = pairs(old, next);
    const at = (now: number) => hubLinkEsp([next, old], keys, true, 'raw', now, grace);
    expect(at(T).esp.outbound).toEqual(at(T - 1).esp.outbound);
    expect(at(T).esp.inbound).toHaveLength(2);
    expect(at(T).nextChangeAt).toBe(T + HUB_LINK_SWITCH_DELAY_MS);
    const switched = at(T + HUB_LINK_SWITCH_DELAY_MS);
    expect(switched.esp.outbound?.spi).toBe(keys.get(9)!.firstToSecond.spi);
    expect(switched.esp.inbound).toHaveLength(2);
    expect(switched.nextChangeAt).toBe(T + HUB_LINK_SWITCH_DELAY_MS + grace);
    const settled = at(T + HUB_LINK_SWITCH_DELAY_MS + grace);
    expect(settled.esp.inbound).toEqual([{ spi: keys.get(9)!.secondToFirst.spi, key: keys.get(9)!.secondToFirst.key.toString('base64url') }]);
    expect(settled.nextChangeAt).toBeNull();
    // One millisecond before the grace ends the old epoch is still opened.
    expect(at(T + HUB_LINK_SWITCH_DELAY_MS + grace - 1).esp.inbound).toHaveLength(2);
  });

  it('a hub that just started seals with its own new epoch at once: it holds no older SAs', () => {
    const old = epoch(7, T - 60_000);
    const fresh = epoch(8, T, HUB_START_REASON);
    const plan = hubLinkEsp([fresh, old], pairs(old, fresh), false, 'udp', T, DEFAULT_REKEY_GRACE_MS);
    expect(plan.esp.outbound?.spi).toBe(pairs(fresh).get(8)!.secondToFirst.spi);
    expect(plan.esp.inbound).toHaveLength(2);
    expect(plan.esp.udp).toEqual({});
  });

  it('at any moment, and with the two hubs\' clocks up to a few seconds apart and any grace longer than that, what one seals the other opens', () => {
    fc.assert(fc.property(
      fc.integer({ min: -60_000, max: 60_000 }), fc.integer({ min: -3_000, max: 3_000 }), fc.boolean(), fc.integer({ min: 3_001, max: 60_000 }),
      (offset, skew, restart, grace) => {
        const old = epoch(7, T - 3_600_000, HUB_START_REASON);
        const next = epoch(9, T, restart ? HUB_START_REASON : 'interval');
        const keys = pairs(old, next);
        const first = hubLinkEsp([next, old], keys, true, 'raw', T + offset, grace).esp;
        const second = hubLinkEsp([next, old], keys, false, 'raw', T + offset + skew, grace).esp;
        // A restarted hub is the one break: it seals anew at once, and the other opens that too.
        expect(second.inbound).toContainEqual(first.outbound);
        if (!restart || offset + skew >= 0) expect(first.inbound).toContainEqual(second.outbound);
      },
    ));
  });
});
