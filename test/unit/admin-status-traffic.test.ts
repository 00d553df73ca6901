import { describe, expect, it } from 'vitest';
import { cardTraffic } from '../../server/admin/status-card-traffic.js';
import { formatTraffic } from '../../server/admin/status-traffic-format.js';
import { trafficRates, type TrafficMark } from '../../server/admin/status-traffic-rates.js';

type Sampled = Parameters<typeof trafficRates>[0] & Parameters<typeof cardTraffic>[0];

/** One sample as the page handles it: rates from the mark, then the card's rows from the rates. */
function sample(peer: Sampled, before: TrafficMark | undefined, at: number): { traffic: string; totals: string; mark: TrafficMark | null } {
  const rates = trafficRates(peer, before, at);
  return { ...cardTraffic(peer, rates, formatTraffic), mark: rates.mark };
}

describe('a card\'s Traffic and Totals rows (trafficRates and cardTraffic, which the page runs)', () => {
  const up = { state: 'up' as const, rxBytes: 10_000, txBytes: 2_000, dropped: 0 };

  it('turns two samples of a peer that is up into rates, and marks where the next rate starts', () => {
    const first = sample(up, undefined, 1_000);
    expect(first).toEqual({ traffic: 'in 0 bit/s · out 0 bit/s', totals: 'in 10.0 kB · out 2.0 kB', mark: { at: 1_000, rx: 10_000, tx: 2_000 } });
    // 125,000 bytes in and 250 out over 2 s: 500 kbit/s and 1 kbit/s.
    const second = sample({ ...up, rxBytes: 135_000, txBytes: 2_250, dropped: 4 }, first.mark!, 3_000);
    expect(second).toEqual({ traffic: 'in 500.0 kbit/s · out 1.00 kbit/s', totals: 'in 135.0 kB · out 2.3 kB · 4 dropped', mark: { at: 3_000, rx: 135_000, tx: 2_250 } });
    expect(trafficRates({ ...up, rxBytes: 135_000, txBytes: 2_250 }, first.mark!, 3_000)).toMatchObject({ rx: 500_000, tx: 1_000 });
    // Counters that went backwards (a re-created tunnel) give no rate, not a negative one.
    expect(sample({ ...up, rxBytes: 5, txBytes: 5 }, second.mark!, 4_000).traffic).toBe('in 0 bit/s · out 0 bit/s');
  });

  it('shows no rate for a peer that is down, keeps its totals, and forgets its mark so no rate spans the gap', () => {
    const before = { at: 1_000, rx: 0, tx: 0 };
    // The hub's end still counts (e.g. the last packets after the member left): still no rate.
    const down = sample({ ...up, state: 'down' }, before, 2_000);
    expect(down).toEqual({ traffic: '—', totals: 'in 10.0 kB · out 2.0 kB', mark: null });
    expect(trafficRates({ ...up, state: 'down' }, before, 2_000)).toEqual({ rx: null, tx: null, mark: null });
    // Back up: the first sample starts a new mark instead of averaging over the time it was down.
    expect(sample({ ...up, rxBytes: 90_000 }, undefined, 60_000)).toMatchObject({ traffic: 'in 0 bit/s · out 0 bit/s', mark: { at: 60_000, rx: 90_000 } });
  });

  it('says when the hub runs no tunnel for the peer', () => {
    expect(sample({ state: 'up', rxBytes: null, txBytes: null, dropped: null }, { at: 0, rx: 1, tx: 1 }, 1_000)).toEqual({ traffic: 'no tunnel on the hub', totals: '—', mark: null });
  });

  it('writes rates and amounts in decimal units', () => {
    expect([0, 999, 1_000, 10_000, 2_500_000, 7e12].map((v) => formatTraffic(v, 'bit/s')))
      .toEqual(['0 bit/s', '999 bit/s', '1.00 kbit/s', '10.0 kbit/s', '2.50 Mbit/s', '7000.0 Gbit/s']);
    expect([0, 1_499, 2_000_000, 3e15].map((v) => formatTraffic(v, 'B'))).toEqual(['0 B', '1.5 kB', '2.0 MB', '3000.0 TB']);
  });
});
