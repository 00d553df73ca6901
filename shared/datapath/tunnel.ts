import type { FastRoute, FastRouteCounters, PacketBatchMemory } from '../../native/types.js';
import { parseIpv4Address } from '../net/ipv4-address.js';
import type { TunEndpoint } from './datapath-io.js';
import type { EncapsulationPlan } from './encapsulation-plan.js';
import { NO_FAST_ROUTE_COUNTS } from './fast-route-sync.js';
import { NO_GRE_KEY, type OuterSocket } from './outer-socket.js';
import { TunnelCounters } from './tunnel-counters.js';
import { TunnelLiveness } from './tunnel-liveness.js';
import { TunnelProbes } from './tunnel-probe.js';
import type { TunnelSpec } from './tunnel-spec.js';
import type { HubBinding } from './udp-binding-hub.js';
import type { MemberBinding } from './udp-binding-member.js';

/** Batches a tunnel owns: packets read from its TUN, inner packets to write to it, ICMP replies. */
export interface TunnelBatches {
  /** TUN reads land here with headroom; encapsulated in place and handed to the outer socket. */
  readonly fromTun: PacketBatchMemory;
  /** Inner packets gathered from shared outer receive batches, written to the TUN in one call. */
  readonly toTun: PacketBatchMemory;
  /** ICMP errors (fragmentation needed, packet too big) written back into the TUN. */
  readonly replies: PacketBatchMemory;
}

/** Keepalive bookkeeping: the probe sequence, this tunnel's random nonce, and the last round trip. */
export interface KeepaliveState {
  timer: NodeJS.Timeout | null;
  sequence: number;
  readonly nonce: number;
  lastProbeAt: number;
  rttMs: number | null;
}

/**
 * One running tunnel. The hot paths read the mutable fields below on every batch, so a live
 * update (remote, ports, encapsulation, local address) takes effect between two batches and the
 * TUN device is never touched.
 */
export class Tunnel {
  // Set by retarget(), which the constructor calls, so construction and live updates share one path.
  spec!: TunnelSpec;
  plan!: EncapsulationPlan;
  socket!: OuterSocket;
  /** Outer addresses and remote UDP port as numbers, for the per-packet path. */
  localAddress!: number;
  remoteAddress!: number;
  remotePort!: number;
  /** The demultiplexing sub-key this tunnel is registered under in `socket`. */
  subKey!: number;
  /** The GRE key expected on received packets (NO_GRE_KEY for none), checked on fou paths. */
  greKey!: number;
  /** Inner packets handed to the TUN so far in the current receive pass. */
  toTunCount = 0;
  readonly counters = new TunnelCounters();
  readonly liveness: TunnelLiveness;
  readonly keepalive: KeepaliveState;
  readonly probes = new TunnelProbes();
  /** The hub end of an authenticated UDP path (auth.role 'hub'), else null. */
  hub: HubBinding | null = null;
  /** The member end of an authenticated UDP path (auth.role 'member'), else null. */
  member: MemberBinding | null = null;
  /** True while a hub-role tunnel has no verified address:port: nothing is sent at all. */
  unbound = false;
  closed = false;
  /** Moves the common packets without JS when the I/O offers it (see fast-route-sync.ts), else null. */
  fastRoute: FastRoute | null = null;
  /** The fast route's counters as last added to `counters`. */
  fastRouteSeen: FastRouteCounters = NO_FAST_ROUTE_COUNTS;

  constructor(
    spec: TunnelSpec,
    plan: EncapsulationPlan,
    socket: OuterSocket,
    subKey: number,
    readonly tun: TunEndpoint,
    readonly batches: TunnelBatches,
    liveness: TunnelLiveness,
    nonce: number,
  ) {
    this.retarget(spec, plan, socket, subKey);
    this.liveness = liveness;
    this.keepalive = { timer: null, sequence: 0, nonce, lastProbeAt: 0, rttMs: null };
  }

  /**
   * Switches to a new spec, plan and socket (already registered there by the engine). A hub-role
   * tunnel's send target is its binding, not the spec's remote (a hint): the engine restores it.
   */
  retarget(spec: TunnelSpec, plan: EncapsulationPlan, socket: OuterSocket, subKey: number): void {
    this.spec = spec;
    this.plan = plan;
    this.socket = socket;
    this.subKey = subKey;
    this.localAddress = parseIpv4Address(spec.local);
    this.remoteAddress = parseIpv4Address(spec.remote);
    this.remotePort = spec.remotePort;
    this.greKey = spec.key ?? NO_GRE_KEY;
  }
}
