import type { StatusViewPeer } from './status-view.js';
import type { formatTraffic } from './status-traffic-format.js';
import type { TrafficRates } from './status-traffic-rates.js';

/** What a card shows under Traffic and Totals. */
export interface CardTraffic {
  traffic: string;
  totals: string;
}

/**
 * The Traffic and Totals rows of a peer's card, from its rates for this sample (`trafficRates`).
 * Only a peer that is up has a rate; a peer that is down keeps its totals and shows no rate. The
 * status page runs this very function (its source is inlined into the page's script), so it takes
 * the formatter as an argument rather than importing it.
 */
export function cardTraffic(peer: Pick<StatusViewPeer, 'rxBytes' | 'txBytes' | 'dropped'>, rates: Pick<TrafficRates, 'rx' | 'tx'>, format: typeof formatTraffic): CardTraffic {
  if (peer.rxBytes === null || peer.txBytes === null) return { traffic: 'no tunnel on the hub', totals: '—' };
  const totals = 'in ' + format(peer.rxBytes, 'B') + ' · out ' + format(peer.txBytes, 'B') + (peer.dropped ? ' · ' + String(peer.dropped) + ' dropped' : '');
  if (rates.rx === null || rates.tx === null) return { traffic: '—', totals };
  return { traffic: 'in ' + format(rates.rx, 'bit/s') + ' · out ' + format(rates.tx, 'bit/s'), totals };
}
