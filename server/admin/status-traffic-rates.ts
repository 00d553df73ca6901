import type { StatusViewPeer } from './status-view.js';

/** Where a peer's next rate starts: the time and byte totals of its last sample while up. */
export interface TrafficMark {
  at: number;
  rx: number;
  tx: number;
}

/** A peer's rates for one sample, in bit/s, and the mark its next rate starts from. */
export interface TrafficRates {
  /** Null: no rate, since the peer is down or the hub runs no tunnel for it. */
  rx: number | null;
  tx: number | null;
  /** Null: forget the peer's mark, so no rate spans a time it was down or had no tunnel. */
  mark: TrafficMark | null;
}

/**
 * A peer's rates for the sample taken at `at`, `before` being its mark from the previous one. Only
 * a peer that is up has a rate; its first sample after a gap reads 0. The status page runs this
 * very function (its source is inlined into the page's script), so it uses nothing from outside.
 */
export function trafficRates(peer: Pick<StatusViewPeer, 'state' | 'rxBytes' | 'txBytes'>, before: TrafficMark | undefined, at: number): TrafficRates {
  if (peer.rxBytes === null || peer.txBytes === null || peer.state !== 'up') return { rx: null, tx: null, mark: null };
  const seconds = before ? (at - before.at) / 1000 : 0;
  // A counter that went backwards (the tunnel was re-created) gives no rate for this sample.
  const rate = (now: number, then: number): number => (seconds > 0 && now >= then ? ((now - then) * 8) / seconds : 0);
  return {
    rx: before ? rate(peer.rxBytes, before.rx) : 0,
    tx: before ? rate(peer.txBytes, before.tx) : 0,
    mark: { at, rx: peer.rxBytes, tx: peer.txBytes },
  };
}
