import type { FastRoute, PacketBatchMemory } from '../../native/types.js';
import type { BindingStatus } from './binding-status.js';
import type { DestinationCount, DestinationTally } from './destination-tally.js';
import type { OuterEndpoint, TunEndpoint } from './datapath-io.js';
import type { EncapsulationPlan, OuterTransport } from './encapsulation-plan.js';
import type { OuterKey } from './outer-address.js';
import type { TunnelCounters } from './tunnel-counters.js';
import type { TunnelLiveness } from './tunnel-liveness.js';
import type { TunnelProbes } from './tunnel-probe.js';
import type { SourceFilter } from './source-filter.js';
import type { PreparedSas, TunnelSecurityAssociations } from './tunnel-security-associations.js';
import type { TunnelAuth, TunnelSpec } from './tunnel-spec.js';

/**
 * The batches of the JS packet path: packets read from a TUN, inner packets to write to one, ICMP
 * replies. One set serves every tunnel of an engine: the JS path is one thread and never holds a
 * batch across a callback, so thousands of tunnels need no batches of their own.
 */
export interface TunnelBatches {
  /** TUN reads land here with headroom; encapsulated in place and handed to the outer socket. */
  readonly fromTun: PacketBatchMemory;
  /** Inner packets gathered from shared outer receive batches, written to the TUN in one call. */
  readonly toTun: PacketBatchMemory;
  /** ICMP errors (fragmentation needed, packet too big) written back into the TUN. */
  readonly replies: PacketBatchMemory;
}

/** Keepalive bookkeeping, written only by tunnel-keepalive.ts: the probe sequence, this tunnel's random nonce, the last round trip. */
export interface KeepaliveState {
  sequence: number;
  readonly nonce: number;
  lastProbeAt: number;
  rttMs: number | null;
  /** The tunnel's last Cisco keepalive as built, reused while its path and key stay the same. */
  greProbe: GreProbe | null;
}

/** A Cisco keepalive's bytes and what they were built from. */
export interface GreProbe {
  readonly local: OuterKey;
  readonly remote: OuterKey;
  readonly key: number | null;
  readonly bytes: Uint8Array;
}

/**
 * The shared outer socket a tunnel sends through, as the tunnel uses it (outer-socket.ts). Its
 * demultiplexing tables are not part of it: only placements and the receive path touch those.
 */
export interface TunnelSocket {
  readonly id: string;
  readonly transport: OuterTransport;
  /** The IP version of its local address, hence of every remote it talks to. */
  readonly family: 4 | 6;
  readonly endpoint: OuterEndpoint;
  /** Small batch for keepalives, echoes and hellos sent outside the bulk path. */
  readonly controlBatch: PacketBatchMemory;
  /** The keepalives of every tunnel due in one tick go out through it in one call. */
  readonly keepaliveBatch: PacketBatchMemory;
  /** How many tunnels use the socket (or are being set up on it); it closes when none is left. */
  readonly users: number;
  attach(tunnel: Tunnel): void;
  detach(tunnel: Tunnel): void;
}

/**
 * Where a tunnel sends and what it receives: a configured remote (static-placement.ts) or the
 * address:port a verified hello bound (udp-binding-hub.ts). Each owns the tunnel's entries in its
 * sockets' tables and its send target, and calls `tunnel.placementChanged()` when they move.
 */
export interface TunnelPlacement {
  /** The remote packets go to (an outer key), its 16 bytes on an IPv6 path (else null), and its UDP port. */
  readonly address: OuterKey;
  readonly address6: Uint8Array | null;
  readonly port: number;
  /** False while there is nowhere verified to send (a hub-role tunnel without a binding). */
  readonly sending: boolean;
  /** True while the tunnel holds its demux entry, so packets from the remote reach it. */
  readonly receiving: boolean;
  /** Takes the tunnel's entries in its sockets' tables. */
  join(): void;
  /** Gives them up; with `reset`, a hub binding publishes that it is gone. */
  leave(reset: boolean): void;
  /** The authenticated binding behind this placement as status shows it, or null. */
  bindingStatus(): BindingStatus | null;
}

/** The member end of an authenticated UDP path, as the packet paths call it (udp-binding-member.ts). */
export interface MemberEnd {
  /** True while a hello awaits its ack. */
  readonly waiting: boolean;
  /** Follows a new auth option (a new session re-keys); keeps the hello counter growing. */
  renew(auth: TunnelAuth): void;
  /** Says hello now, then once per hello interval. */
  start(): void;
  /** Stops every timer. */
  stop(): void;
  /** Says hello now. */
  sayHello(): void;
  /** Called after a batch was sent: says hello when the hub has been silent too long. */
  noteTransmit(): void;
  /** Something valid came from the hub just now, or `ms` ago (through the fast route). */
  heardNow(): void;
  heardAgo(ms: number): void;
  /** A hello frame from the hub: only a valid ack is taken. */
  receiveAck(buf: Uint8Array, offset: number, length: number): void;
  bindingStatus(): BindingStatus;
}

/** A native fast route kept in step with its tunnel (fast-route-sync.ts). */
export interface TunnelMirror {
  /** The route itself, for reading many routes' counters in one call. */
  readonly route: FastRoute;
  /** Points the route at what the JS path would do now. */
  sync(): void;
  /** Adds what the route moved since the last call to the tunnel's counters. */
  absorb(): void;
  /** absorb() from counters read already: values[offset, offset + 9) in FastRouteCounters order (-1 for never received). */
  absorbFrom(values: Float64Array, offset: number): void;
  /** Packets the route moved so far (as last absorbed). */
  readonly moved: { readonly rxPackets: number; readonly txPackets: number };
  /** The inner destinations the route counted since the last call (a tunnel with a tally). */
  drainDestinations(): DestinationCount[];
  /** True when the route received packets (as last absorbed) since its last drainDestinations(): only then may its tally hold any. */
  readonly receivedSinceDrain: boolean;
  close(): void;
}

/** Where a tunnel's packets go: what a live update replaces as one piece. */
export interface TunnelPath {
  readonly spec: TunnelSpec;
  readonly plan: EncapsulationPlan;
  /** The path MTU learned toward the remote (ICMP, the kernel), or null; `plan` counts it already. */
  readonly learnedPathMtu: number | null;
  readonly socket: TunnelSocket;
  /** The socket inner IPv6 packets go through: `socket`, except for ipip over IPv6 (plan.transport6). */
  readonly socket6: TunnelSocket;
  /**
   * An encrypted tunnel on raw ESP: the raw socket where cleartext GRE or IPIP from its remote
   * would arrive, so it is counted (`rx:cleartext`) and dropped; else null.
   */
  readonly trap: TunnelSocket | null;
  /** The ESP SAs this path installs (made already; committed by the tunnel). */
  readonly sas: PreparedSas;
  readonly localAddress: OuterKey;
  /** The GRE key expected on received packets (NO_GRE_KEY for none), checked on fou and ESP paths. */
  readonly greKey: number;
  /** The placement the tunnel takes on this path, given the one it has (null when new). */
  readonly place: (tunnel: Tunnel, current: TunnelPlacement | null) => TunnelPlacement;
}

/** The keepalive schedule every tunnel of an engine shares (tunnel-keepalive.ts). */
export interface KeepaliveSchedule {
  /** (Re)starts the tunnel's keepalives from its spec; `probeNow` sends one at once. */
  restart(tunnel: Tunnel, probeNow: boolean): void;
  /** Sends one keepalive at the end of this turn, in one batch per socket with every other sent so. */
  probeThisTurn(tunnel: Tunnel): void;
  /** Stops them. */
  stop(tunnel: Tunnel): void;
  /** True while the tunnel sends keepalives (and tracks liveness). */
  running(tunnel: Tunnel): boolean;
}

/** What a tunnel is made of besides its path, created once by the engine. */
export interface TunnelParts {
  readonly tun: TunEndpoint;
  readonly batches: TunnelBatches;
  readonly keepalives: KeepaliveSchedule;
  readonly counters: TunnelCounters;
  readonly liveness: TunnelLiveness;
  readonly probes: TunnelProbes;
  readonly nonce: number;
  readonly sas: TunnelSecurityAssociations;
  /** Received bytes per inner destination (a hub's member tunnels), or null: not counted. */
  readonly destinations: DestinationTally | null;
  /** On a TUN several tunnels share: the inner destinations it carries (its peer and routed prefixes); null on a device of its own. */
  readonly sharedDestinations?: SourceFilter | null;
}

/**
 * One running tunnel. Its state is private: the per-packet paths read it through getters once per
 * batch or packet, and it changes only through the methods below, which keep the tunnel's sockets,
 * placement and fast route in step. A live update takes effect between two batches; the TUN
 * device is never touched.
 */
export class Tunnel {
  readonly tun: TunEndpoint;
  readonly batches: TunnelBatches;
  readonly counters: TunnelCounters;
  readonly liveness: TunnelLiveness;
  readonly probes: TunnelProbes;
  readonly keepalive: KeepaliveState;
  /** The ESP SAs (none on a cleartext tunnel); changed only through retarget and close. */
  readonly sas: TunnelSecurityAssociations;
  /** Received bytes per inner destination on the JS path, or null when not counted; the fast route keeps its own. */
  readonly destinations: DestinationTally | null;
  readonly keepalives: KeepaliveSchedule;
  /** Set while the current receive pass lists the tunnel among those it writes to (outer-receive.ts's scratch). */
  toTunCount = 0;
  #spec: TunnelSpec;
  #plan: EncapsulationPlan;
  #learnedPathMtu: number | null;
  #socket: TunnelSocket;
  #socket6: TunnelSocket;
  #trap: TunnelSocket | null;
  #localAddress: OuterKey;
  #greKey: number;
  #placement: TunnelPlacement;
  #member: MemberEnd | null = null;
  #mirror: TunnelMirror | null = null;
  #sharedDestinations: SourceFilter | null;
  #closed = false;

  constructor(parts: TunnelParts, path: TunnelPath) {
    this.tun = parts.tun;
    this.batches = parts.batches;
    this.counters = parts.counters;
    this.liveness = parts.liveness;
    this.probes = parts.probes;
    this.sas = parts.sas;
    this.destinations = parts.destinations;
    this.keepalives = parts.keepalives;
    this.#sharedDestinations = parts.sharedDestinations ?? null;
    this.keepalive = { sequence: 0, nonce: parts.nonce, lastProbeAt: 0, rttMs: null, greProbe: null };
    this.#spec = path.spec;
    this.#plan = path.plan;
    this.#learnedPathMtu = path.learnedPathMtu;
    this.#socket = path.socket;
    this.#socket6 = path.socket6;
    this.#trap = path.trap;
    this.#localAddress = path.localAddress;
    this.#greKey = path.greKey;
    this.sas.commit(path.sas);
    this.#placement = path.place(this, null);
  }

  get spec(): TunnelSpec {
    return this.#spec;
  }

  get plan(): EncapsulationPlan {
    return this.#plan;
  }

  /** The path MTU ICMP or the kernel reported toward the remote, or null (none since the path changed). */
  get learnedPathMtu(): number | null {
    return this.#learnedPathMtu;
  }

  get socket(): TunnelSocket {
    return this.#socket;
  }

  /** The socket inner IPv6 packets go through: `socket`, except for ipip over IPv6. */
  get socket6(): TunnelSocket {
    return this.#socket6;
  }

  /** The raw socket cleartext for an encrypted tunnel would arrive on, or null. */
  get trap(): TunnelSocket | null {
    return this.#trap;
  }

  get localAddress(): OuterKey {
    return this.#localAddress;
  }

  /** The GRE key expected on received packets (NO_GRE_KEY for none). */
  get greKey(): number {
    return this.#greKey;
  }

  get placement(): TunnelPlacement {
    return this.#placement;
  }

  /** The send target: the configured remote, or a hub-role tunnel's bound address:port. */
  get remoteAddress(): OuterKey {
    return this.#placement.address;
  }

  /** The remote's 16 bytes on an IPv6 path (null on IPv4): what sends put in addrs6. */
  get remoteAddress6(): Uint8Array | null {
    return this.#placement.address6;
  }

  get remotePort(): number {
    return this.#placement.port;
  }

  /** False while a hub-role tunnel has no verified address:port: nothing is sent at all. */
  get sending(): boolean {
    return this.#placement.sending;
  }

  /** The member end of an authenticated UDP path (auth.role 'member'), else null. */
  get member(): MemberEnd | null {
    return this.#member;
  }

  /** Moves the common packets without JS when the I/O offers it, else null. */
  get fastRoute(): TunnelMirror | null {
    return this.#mirror;
  }

  /** On a shared TUN, the inner destinations this tunnel carries; null when the TUN is its own. */
  get sharedDestinations(): SourceFilter | null {
    return this.#sharedDestinations;
  }

  /** New destinations on the shared TUN (only there): the fast route follows. */
  setSharedDestinations(destinations: SourceFilter): void {
    if (this.#sharedDestinations === null) return;
    this.#sharedDestinations = destinations;
    this.#sync();
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Attaches to its sockets and takes its place there; once, after construction. */
  open(): void {
    this.#socket.attach(this);
    this.#socket6.attach(this);
    this.#trap?.attach(this);
    this.#placement.join();
  }

  /**
   * Switches to a new path (checked and prepared by the engine): the old placement leaves first,
   * since its entries are keyed by the old remote, unless the new path keeps it; the sockets change
   * users; the new placement joins; the fast route follows. Sockets left unused are the caller's
   * to close.
   */
  retarget(path: TunnelPath): void {
    const placement = path.place(this, this.#placement);
    const moving = placement !== this.#placement;
    if (moving) this.#placement.leave(true);
    for (const old of [this.#socket, this.#socket6, this.#trap]) {
      if (old !== null && old !== path.socket && old !== path.socket6 && old !== path.trap) old.detach(this);
    }
    path.socket.attach(this);
    path.socket6.attach(this);
    path.trap?.attach(this);
    // New inbound SAs are in the table before the new path receives, the outbound switches at once.
    this.sas.commit(path.sas);
    this.#spec = path.spec;
    this.#plan = path.plan;
    this.#learnedPathMtu = path.learnedPathMtu;
    this.#socket = path.socket;
    this.#socket6 = path.socket6;
    this.#trap = path.trap;
    this.#localAddress = path.localAddress;
    this.#greKey = path.greKey;
    this.#placement = placement;
    if (moving) placement.join();
    this.#sync();
  }

  /** A new path MTU toward the remote and the plan that counts it. */
  setPathMtu(learnedPathMtu: number | null, plan: EncapsulationPlan): void {
    this.#learnedPathMtu = learnedPathMtu;
    this.#plan = plan;
    this.#sync();
  }

  /** Sets or drops the member end (udp-binding-member.ts decides which). */
  setMember(member: MemberEnd | null): void {
    this.#member = member;
    this.#sync();
  }

  /** Gives the tunnel its fast route, configured at once. */
  attachFastRoute(mirror: TunnelMirror): void {
    this.#mirror = mirror;
    this.#sync();
  }

  /** Adds what the fast route moved to the counters (status, the keepalive timer, a member's send). */
  absorbFastRoute(): void {
    this.#mirror?.absorb();
  }

  /** The placement moved the send target or the demux entry: the fast route follows. */
  placementChanged(): void {
    this.#sync();
  }

  /** Liveness went up or down: the fast route receives only while up. */
  livenessChanged(): void {
    this.#sync();
  }

  /**
   * Stops everything the tunnel runs and leaves its sockets. Its TUN is the caller's to close (the
   * engine does it off the event loop: closing a TUN unregisters its device), as are sockets left
   * unused.
   */
  close(): void {
    this.#closed = true;
    // Before the route lets go of the TUN, which would hand its reading back to JS: a device
    // deleted next (the engine's close) would then wake JS once per tunnel for nothing. A shared
    // TUN goes on reading for the other tunnels (shared-member-device.ts stops it).
    if (this.#sharedDestinations === null) this.tun.onReadable(null);
    this.#mirror?.close();
    this.keepalives.stop(this);
    this.#placement.leave(false);
    this.#member?.stop();
    this.probes.cancelAll();
    this.#socket.detach(this);
    this.#socket6.detach(this);
    this.#trap?.detach(this);
    this.sas.close();
  }

  #sync(): void {
    if (!this.#closed) this.#mirror?.sync();
  }
}
