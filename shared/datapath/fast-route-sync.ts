import type { FastRoute, FastRouteCounters } from '../../native/types.js';
import type { DestinationCount } from './destination-tally.js';
import type { Tunnel, TunnelMirror } from './tunnel.js';
import { HELLO_ACK_TIMEOUT_MS } from './udp-binding-member.js';

/** Counters of a fast route that has moved nothing yet. */
const NO_FAST_ROUTE_COUNTS: FastRouteCounters = {
  rxPackets: 0, rxBytes: 0, txPackets: 0, txBytes: 0, rxQueueFull: 0, txQueueFull: 0, rxErrors: 0, txErrors: 0, msSinceReceive: null,
};

/**
 * Keeps a tunnel's native fast route in step with the tunnel, which calls sync() from every
 * method that changes what the route mirrors (its path, plan, placement, liveness, member end).
 */
export class FastRouteSync implements TunnelMirror {
  /** The route's counters as last added to the tunnel's. */
  #seen: FastRouteCounters = NO_FAST_ROUTE_COUNTS;

  constructor(private readonly route: FastRoute, private readonly tunnel: Tunnel) {}

  get moved(): { rxPackets: number; txPackets: number } {
    return { rxPackets: this.#seen.rxPackets, txPackets: this.#seen.txPackets };
  }

  /**
   * Points the route at what the JS path would do now: the same header bytes (its plan, built by
   * shared/wire), the same send target, the same demux entry. It receives only while the tunnel
   * holds its demux entry and is up, so the first packet after silence still reaches JS and marks
   * the tunnel up at once; a hub-role tunnel without a binding sends nothing natively; a member
   * sends through JS after HELLO_ACK_TIMEOUT_MS of silence, so it can say hello to a re-mapped NAT.
   * A packet whose inner source the tunnel's filter refuses stays for JS, which counts it `spoofed`.
   */
  sync(): void {
    const tunnel = this.tunnel;
    if (tunnel.closed) return;
    const { plan, spec, socket } = tunnel;
    const udp = plan.transport === 'udp';
    const sending = tunnel.sending;
    this.route.configure({
      tun: tunnel.tun,
      outer: socket.endpoint,
      transmit: sending,
      receive: sending && tunnel.placement.receiving && tunnel.liveness.state === 'up',
      remoteAddress: socket.family === 4 ? tunnel.remoteAddress : 0,
      remoteAddress6: tunnel.remoteAddress6,
      remotePort: udp ? tunnel.remotePort : 0,
      header4: plan.header4,
      // Inner IPv6 over ipip on IPv6 leaves through another socket (protocol 41): JS sends it.
      header6: tunnel.socket6 === socket ? plan.header6 : null,
      headerEthernet: plan.frame,
      mtu: plan.mtu,
      clampMss: spec.mssClamp,
      quietLimitMs: tunnel.member !== null ? HELLO_ACK_TIMEOUT_MS : 0,
      // Sources are IP addresses: a gretap tunnel's frames are not filtered.
      sources: plan.frame === null ? spec.sources?.tables ?? null : null,
      // The same SAs the JS path uses: one transform, one sequence space, one replay window.
      esp: plan.esp === null || tunnel.sas.inbound === null ? null
        : { out: tunnel.sas.outbound, in: tunnel.sas.inbound, nextHeader4: plan.esp.nextHeader4, nextHeader6: plan.esp.nextHeader6 },
      tallyDestinations: tunnel.destinations !== null,
    });
  }

  /**
   * Adds what the route moved since the last call to the tunnel's counters, and lets its liveness
   * (and a member's silence clock) know the remote was heard.
   */
  absorb(): void {
    const now = this.route.counters();
    const seen = this.#seen;
    const counters = this.tunnel.counters;
    counters.rxPackets += now.rxPackets - seen.rxPackets;
    counters.rxBytes += now.rxBytes - seen.rxBytes;
    counters.txPackets += now.txPackets - seen.txPackets;
    counters.txBytes += now.txBytes - seen.txBytes;
    if (now.rxQueueFull > seen.rxQueueFull) counters.rxDrop('queue-full', now.rxQueueFull - seen.rxQueueFull);
    if (now.txQueueFull > seen.txQueueFull) counters.txDrop('queue-full', now.txQueueFull - seen.txQueueFull);
    if (now.rxErrors > seen.rxErrors) counters.rxDrop('io-error', now.rxErrors - seen.rxErrors);
    if (now.txErrors > seen.txErrors) counters.txDrop('io-error', now.txErrors - seen.txErrors);
    const heard = now.rxPackets + now.rxQueueFull + now.rxErrors > seen.rxPackets + seen.rxQueueFull + seen.rxErrors;
    this.#seen = now;
    if (!heard) return;
    this.tunnel.liveness.markHeard();
    const member = this.tunnel.member;
    if (member !== null && now.msSinceReceive !== null) member.heardAgo(now.msSinceReceive);
  }

  drainDestinations(): DestinationCount[] {
    return this.route.drainDestinations?.() ?? [];
  }

  close(): void {
    this.route.close();
  }
}
