import type { StatusViewPeer } from './status-view.js';

/** Where a peer's next rate starts: the time and byte totals of its last sample while up. */
export interface TrafficMark {
  at: number;
  rx: number;
  tx: number;
}

/** What a card shows under Traffic and Totals, and the mark the peer's next rate starts from. */
export interface CardTraffic {
  traffic: string;
  totals: string;
  /** Null: forget the peer's mark, so no rate spans a time it was down or had no tunnel. */
  mark: TrafficMark | null;
}

/**
 * The Traffic and Totals rows of a peer's card for the sample taken at `at`, `before` being the
 * peer's mark from the previous one. Only a peer that is up has a rate; a peer that is down keeps
 * its totals and shows no rate. The status page runs this very function (its source is inlined
 * into the page's script), so it uses nothing from outside itself.
 */
export function cardTraffic(peer: Pick<StatusViewPeer, 'state' | 'rxBytes' | 'txBytes' | 'dropped'>, before: TrafficMark | undefined, at: number): CardTraffic {
  const scaled = (value: number, units: string[], digits: (v: number) => string): string => {
    let unit = 0;
    while (value >= 1000 && unit < units.length - 1) {
      value /= 1000;
      unit += 1;
    }
    return (unit === 0 ? String(Math.round(value)) : digits(value)) + ' ' + units[unit];
  };
  const bits = (perSecond: number): string => scaled(perSecond, ['bit/s', 'kbit/s', 'Mbit/s', 'Gbit/s'], (v) => v.toFixed(v < 10 ? 2 : 1));
  const bytes = (n: number): string => scaled(n, ['B', 'kB', 'MB', 'GB', 'TB'], (v) => v.toFixed(1));
  if (peer.rxBytes === null || peer.txBytes === null) return { traffic: 'no tunnel on the hub', totals: '—', mark: null };
  const totals = 'in ' + bytes(peer.rxBytes) + ' · out ' + bytes(peer.txBytes) + (peer.dropped ? ' · ' + String(peer.dropped) + ' dropped' : '');
  if (peer.state !== 'up') return { traffic: '—', totals, mark: null };
  const seconds = before ? (at - before.at) / 1000 : 0;
  // A counter that went backwards (the tunnel was re-created) gives no rate for this sample.
  const rate = (now: number, then: number): number => (seconds > 0 && now >= then ? ((now - then) * 8) / seconds : 0);
  return {
    traffic: 'in ' + bits(before ? rate(peer.rxBytes, before.rx) : 0) + ' · out ' + bits(before ? rate(peer.txBytes, before.tx) : 0),
    totals,
    mark: { at, rx: peer.rxBytes, tx: peer.txBytes },
  };
}
