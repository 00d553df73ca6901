import type { FastRoute, FastRouteCounters, PacketBatchMemory } from '../../native/types.js';
import type { TunEndpoint } from './datapath-io.js';
import type { EncapsulationPlan } from './encapsulation-plan.js';
import { NO_FAST_ROUTE_COUNTS } from './fast-route-sync.js';
import { ipv6KeyBytes, outerKeyOf, type OuterKey } from './outer-address.js';
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
  /** The socket inner IPv6 packets go through: `socket`, except for ipip over IPv6 (plan.transport6). */
  socket6!: OuterSocket;
  /** Outer addresses as keys (outer-address.ts) and the remote UDP port, for the per-packet path. */
  localAddress!: OuterKey;
  remoteAddress!: OuterKey;
  remotePort!: number;
  /** The path MTU ICMP Packet Too Big reported toward the remote, or null (none since the path changed). */
  learnedPathMtu: number | null = null;
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
    socket6: OuterSocket,
    subKey: number,
    readonly tun: TunEndpoint,
    readonly batches: TunnelBatches,
    liveness: TunnelLiveness,
    nonce: number,
  ) {
    this.retarget(spec, plan, socket, subKey, socket6);
    this.liveness = liveness;
    this.keepalive = { timer: null, sequence: 0, nonce, lastProbeAt: 0, rttMs: null };
  }

  /**
   * Switches to a new spec, plan and sockets (already registered there by the engine). A hub-role
   * tunnel's send target is its binding, not the spec's remote (a hint): the engine restores it.
   */
  retarget(spec: TunnelSpec, plan: EncapsulationPlan, socket: OuterSocket, subKey: number, socket6: OuterSocket = socket): void {
    this.spec = spec;
    this.plan = plan;
    this.socket = socket;
    this.socket6 = socket6;
    this.subKey = subKey;
    this.localAddress = outerKeyOf(spec.local);
    this.remoteAddress = outerKeyOf(spec.remote);
    this.remotePort = spec.remotePort;
    this.greKey = spec.key ?? NO_GRE_KEY;
  }

  /** The remote's 16 bytes on an IPv6 path (null on IPv4): what sends put in addrs6. */
  get remoteAddress6(): Uint8Array | null {
    return this.socket.family === 6 ? ipv6KeyBytes(this.remoteAddress) : null;
  }
}
