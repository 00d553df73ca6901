import type { FastRoute, FastRouteCounters } from '../../native/types.js';
import type { DestinationCount } from './destination-tally.js';
import type { Tunnel, TunnelMirror } from './tunnel.js';
import { HELLO_ACK_TIMEOUT_MS } from './udp-binding-member.js';

/** Values per route a batched counter read gives, in FastRouteCounters order (the last -1 for never received). */
export const FAST_ROUTE_COUNTER_VALUES = 9;

/** Reads routes' counters into out[9i, 9i + 9) in one call (DatapathIo.readFastRouteCounters). */
export type ReadFastRouteCounters = (routes: readonly FastRoute[], out: Float64Array) => void;

// Indexes into a route's counter values.
const RX_PACKETS = 0;
const RX_BYTES = 1;
const TX_PACKETS = 2;
const TX_BYTES = 3;
const RX_QUEUE_FULL = 4;
const TX_QUEUE_FULL = 5;
const RX_ERRORS = 6;
const TX_ERRORS = 7;
const SINCE_RECEIVE = 8;

/** What one route moved since its last absorb (absorbFrom's scratch; JS runs one at a time). */
const moved = new Float64Array(FAST_ROUTE_COUNTER_VALUES);

/**
 * Adds what the fast routes of many tunnels moved to their counters: with `read`, every route's
 * counters in one native call (one lock for all, not one per route), else one call per route.
 */
export class FastRouteAbsorber {
  #values = new Float64Array(0);
  /** The mirrors and routes of one call, kept between calls (the keepalive wheel calls this ten times a second). */
  readonly #mirrors: TunnelMirror[] = [];
  readonly #routes: FastRoute[] = [];

  constructor(private readonly read?: ReadFastRouteCounters) {}

  absorb(tunnels: Iterable<Tunnel>): void {
    const mirrors = this.#mirrors;
    const routes = this.#routes;
    mirrors.length = 0;
    routes.length = 0;
    for (const tunnel of tunnels) {
      const mirror = tunnel.fastRoute;
      if (mirror === null || tunnel.closed) continue;
      mirrors.push(mirror);
      routes.push(mirror.route);
    }
    if (mirrors.length === 0) return;
    if (this.read === undefined) {
      for (const mirror of mirrors) mirror.absorb();
    } else {
      const needed = mirrors.length * FAST_ROUTE_COUNTER_VALUES;
      if (this.#values.length < needed) this.#values = new Float64Array(needed);
      this.read(routes, this.#values);
      for (let i = 0; i < mirrors.length; i++) mirrors[i]!.absorbFrom(this.#values, i * FAST_ROUTE_COUNTER_VALUES);
    }
    // Nothing held between calls: a closed tunnel's route is not kept alive here.
    mirrors.length = 0;
    routes.length = 0;
  }
}

/**
 * Keeps a tunnel's native fast route in step with the tunnel, which calls sync() from every
 * method that changes what the route mirrors (its path, plan, placement, liveness, member end).
 */
export class FastRouteSync implements TunnelMirror {
  /** The route's counter values as last added to the tunnel's (FAST_ROUTE_COUNTER_VALUES of them). */
  readonly #seen = new Float64Array(FAST_ROUTE_COUNTER_VALUES);
  /** Packets the route had received (as absorbed) at its last drainDestinations(). */
  #receivedAtDrain = 0;

  constructor(readonly route: FastRoute, private readonly tunnel: Tunnel) {}

  get moved(): { rxPackets: number; txPackets: number } {
    return { rxPackets: this.#seen[RX_PACKETS]!, txPackets: this.#seen[TX_PACKETS]! };
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
      // On a shared TUN the route sends the packets its destinations hold.
      shared: tunnel.sharedDestinations !== null,
      destinations: tunnel.sharedDestinations?.tables ?? null,
    });
  }

  /**
   * Adds what the route moved since the last call to the tunnel's counters, and lets its liveness
   * (and a member's silence clock) know the remote was heard.
   */
  absorb(): void {
    const now = this.route.counters();
    const values = new Float64Array(FAST_ROUTE_COUNTER_VALUES);
    values[RX_PACKETS] = now.rxPackets;
    values[RX_BYTES] = now.rxBytes;
    values[TX_PACKETS] = now.txPackets;
    values[TX_BYTES] = now.txBytes;
    values[RX_QUEUE_FULL] = now.rxQueueFull;
    values[TX_QUEUE_FULL] = now.txQueueFull;
    values[RX_ERRORS] = now.rxErrors;
    values[TX_ERRORS] = now.txErrors;
    values[SINCE_RECEIVE] = now.msSinceReceive ?? -1;
    this.absorbFrom(values, 0);
  }

  /** absorb() from counter values read already (values[offset, offset + 9), as readFastRouteCounters gives them). */
  absorbFrom(values: Float64Array, offset: number): void {
    const seen = this.#seen;
    for (let i = 0; i < FAST_ROUTE_COUNTER_VALUES; i++) {
      const value = values[offset + i]!;
      moved[i] = value - seen[i]!;
      seen[i] = value;
    }
    const counters = this.tunnel.counters;
    counters.rxPackets += moved[RX_PACKETS]!;
    counters.rxBytes += moved[RX_BYTES]!;
    counters.txPackets += moved[TX_PACKETS]!;
    counters.txBytes += moved[TX_BYTES]!;
    if (moved[RX_QUEUE_FULL]! > 0) counters.rxDrop('queue-full', moved[RX_QUEUE_FULL]!);
    if (moved[TX_QUEUE_FULL]! > 0) counters.txDrop('queue-full', moved[TX_QUEUE_FULL]!);
    if (moved[RX_ERRORS]! > 0) counters.rxDrop('io-error', moved[RX_ERRORS]!);
    if (moved[TX_ERRORS]! > 0) counters.txDrop('io-error', moved[TX_ERRORS]!);
    if (moved[RX_PACKETS]! + moved[RX_QUEUE_FULL]! + moved[RX_ERRORS]! <= 0) return;
    this.tunnel.liveness.markHeardUnasked();
    const member = this.tunnel.member;
    const since = seen[SINCE_RECEIVE]!;
    if (member !== null && since >= 0) member.heardAgo(since);
  }

  drainDestinations(): DestinationCount[] {
    this.#receivedAtDrain = this.#received();
    return this.route.drainDestinations?.() ?? [];
  }

  // The route tallies a packet before counting it received, so one counted after the last absorb
  // shows as received at the next, and is drained then.
  get receivedSinceDrain(): boolean {
    return this.#received() !== this.#receivedAtDrain;
  }

  /** Packets the route took in as last absorbed, delivered or not (a refused write was tallied too). */
  #received(): number {
    return this.#seen[RX_PACKETS]! + this.#seen[RX_QUEUE_FULL]! + this.#seen[RX_ERRORS]!;
  }

  close(): void {
    this.route.close();
  }
}
