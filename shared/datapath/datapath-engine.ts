import { randomInt } from 'node:crypto';
import { TunnelError } from '../errors.js';
import type { DatapathIo, TunEndpoint } from './datapath-io.js';
import { DestinationTally, type DestinationCount } from './destination-tally.js';
import { DEFAULT_PATH_MTU, planEncapsulation, type EncapsulationPlan, type OuterTransport } from './encapsulation-plan.js';
import { FastRouteSync } from './fast-route-sync.js';
import { receiveFromOuter } from './outer-receive.js';
import { OuterSocket } from './outer-socket.js';
import { PathMtuWatch, type PathMtuEvent } from './path-mtu-watch.js';
import { TunnelCounters } from './tunnel-counters.js';
import { followKeepaliveSpec, restartKeepalive, sendKeepalive } from './tunnel-keepalive.js';
import { TunnelLiveness, type LivenessEvent } from './tunnel-liveness.js';
import { claimProblem, tunnelPath } from './tunnel-path.js';
import { TunnelProbes } from './tunnel-probe.js';
import { TunnelSecurityAssociations, type EspFactory, type PreparedSas, type RekeyDueEvent } from './tunnel-security-associations.js';
import { applyTunnelUpdate, sameAuth, validateTunnelSpec, type TunnelSpec, type TunnelSpecInput, type TunnelUpdate } from './tunnel-spec.js';
import { socketStatusOf, tunnelStatusOf, type OuterSocketStatus, type TunnelStatus } from './tunnel-status.js';
import { transmitFromTun } from './tunnel-transmit.js';
import { Tunnel, type TunnelParts, type TunnelPath, type TunnelSocket } from './tunnel.js';
import type { BindingEvent } from './udp-binding-event.js';
import { followMemberAuth } from './udp-binding-member.js';

export type { BindingStatus } from './binding-status.js';
export type { OuterSocketStatus, TunnelStatus } from './tunnel-status.js';
export type { RekeyDueEvent } from './tunnel-security-associations.js';

/** Packets per batch: one JS↔native crossing moves up to this many. */
export const BATCH_CAPACITY = 64;

/** Bytes per batch slot: an Ethernet-sized packet plus headroom, with room to spare. */
export const SLOT_SIZE = 2048;

const REPLY_CAPACITY = 8;
const CONTROL_CAPACITY = 1;

/** The IP protocol of each raw outer transport. */
const RAW_PROTOCOL = { gre: 47, ipip: 4, ipv6: 41, esp: 50 } as const;

/** How often the engine adds what ESP SAs counted to their tunnels and checks for a due rekey. */
export const ESP_WATCH_INTERVAL_MS = 1000;

/** Options of the engine. */
export interface DatapathEngineOptions {
  /** Outer path MTU used to derive tunnel MTUs (default 1500). */
  pathMtu?: number;
  /** Called on every liveness change (also published on `tunnel:datapath:liveness`). */
  onLiveness?: (event: LivenessEvent) => void;
  /** Called when a hub-role tunnel is bound, moved or unbound (also on `tunnel:datapath:binding`). */
  onBinding?: (event: BindingEvent) => void;
  /** Called when a tunnel's outer path MTU changed (ICMP on the path, or the kernel's estimate), and so its MTU. */
  onPathMtu?: (event: PathMtuEvent) => void;
  /**
   * Called once per outbound ESP SA when its sequence number passes the spec's `esp.rekeySequence`
   * (2^31 by default): time to install the next SA. Checked every ESP_WATCH_INTERVAL_MS and on status.
   */
  onRekeyDue?: (event: RekeyDueEvent) => void;
  /**
   * Let the I/O's fast routes move the common packets without waking JS (default true). Off, every
   * packet goes through the JS path; the wire behaviour is the same either way.
   */
  fastPath?: boolean;
  /**
   * Count received bytes per inner destination on every tunnel, on the fast path as in JS (a hub
   * finding member pairs worth a shortcut; drainDestinations). Default false.
   */
  tallyDestinations?: boolean;
}

/** Default time a probe waits for its answer. */
export const DEFAULT_PROBE_TIMEOUT_MS = 1000;

/**
 * The userspace datapath: many tunnels in one process, each with its own TUN device, sharing
 * outer sockets (one raw socket per protocol and local address, one UDP socket per local address
 * and port). Every public method either completes or throws a coded TunnelError leaving the
 * engine as it was. Each tunnel's state belongs to its Tunnel and the owners it holds (placement,
 * member end, fast route); the engine only decides what changes, in the order update() documents.
 */
export class DatapathEngine {
  private readonly tunnels = new Map<string, Tunnel>();
  private readonly sockets = new Map<string, OuterSocket>();
  private readonly pathMtu: number;
  private readonly pathMtus: PathMtuWatch;
  // Scratch space of the receive path, shared by every socket (callbacks never nest).
  private readonly targets: (Tunnel | null)[] = new Array<Tunnel | null>(BATCH_CAPACITY).fill(null);
  private readonly touched: Tunnel[] = [];
  private readonly emitBinding = (event: BindingEvent): void => this.options.onBinding?.(event);
  private espWatch: NodeJS.Timeout | null = null;

  constructor(private readonly io: DatapathIo, private readonly options: DatapathEngineOptions = {}) {
    this.pathMtu = options.pathMtu ?? DEFAULT_PATH_MTU;
    this.pathMtus = new PathMtuWatch(io, this.tunnels, this.pathMtu, (event) => this.options.onPathMtu?.(event));
  }

  /** Creates a tunnel: its TUN (MTU, address, up), its place in a shared outer socket, its keepalive. */
  addTunnel(input: TunnelSpecInput): TunnelStatus {
    const spec = validateTunnelSpec(input);
    if (this.tunnels.has(spec.name)) throw new TunnelError('ERR_TUNNEL_EXISTS', `a tunnel named ${spec.name} already runs here`);
    const plan = planEncapsulation(spec, this.pathMtu);
    const sas = this.securityAssociationsOf(spec.name);
    const prepared = sas.prepare(spec.esp);
    const { socket, socket6, trap } = this.acquireSocketsOrDiscard(spec, plan, sas, prepared);
    const release = (): void => {
      sas.discard(prepared);
      this.releaseUnused([socket, socket6, trap]);
    };
    const claimed = claimProblem(socket, socket6, trap, spec);
    if (claimed !== null) {
      release();
      throw new TunnelError('ERR_TUNNEL_EXISTS', claimed);
    }
    const tun = this.openDevice(spec, plan, release);
    const tunnel = new Tunnel(this.partsOf(spec, tun, sas), tunnelPath(spec, plan, null, socket, socket6, trap, prepared, this.emitBinding));
    tunnel.open();
    this.tunnels.set(spec.name, tunnel);
    tun.onReadable(() => {
      try {
        transmitFromTun(tunnel);
      } catch {
        tunnel.counters.txDrop('internal');
      }
    });
    restartKeepalive(tunnel, true);
    followMemberAuth(tunnel, true);
    this.attachFastRoute(tunnel);
    this.pathMtus.refresh(tunnel);
    this.pathMtus.watch();
    this.watchEsp();
    return tunnelStatusOf(tunnel);
  }

  /**
   * Changes a running tunnel's remote, local address, ports, key, encapsulation, MTU, TTL or
   * keepalive without touching its TUN device (only its MTU when that changes). Packets already
   * read keep the old settings; the next batch uses the new ones. A new outer path (remote, local,
   * encapsulation) forgets the path MTU ICMP reported on the old one.
   *
   * The order, and why:
   * 1. prepareMove: validate, plan, open new sockets, check no other tunnel holds the new place,
   *    set the TUN's MTU. All that can fail happens here, before anything changed, so a refusal
   *    leaves the tunnel as it was (sockets opened for it are closed again).
   * 2. tunnel.retarget: the old placement leaves first (its entries are keyed by the old remote;
   *    a hub binding that carries over stays), the sockets change users, the new path and
   *    placement take over, the fast route follows.
   * 3. Sockets the tunnel left close when no tunnel uses them: only after step 2 are they unused.
   * 4. Keepalive and member hellos restart on the new path, since they send through it.
   * 5. A moved tunnel compares its new remote with the kernel's path MTU: it needs the new remote
   *    and spec of step 2, and may re-plan the tunnel, so it comes last.
   */
  update(name: string, update: TunnelUpdate): TunnelStatus {
    const tunnel = this.require(name);
    const before = tunnel.spec;
    const { path, moved } = this.prepareMove(tunnel, update);
    const left = [tunnel.socket, tunnel.socket6, tunnel.trap];
    tunnel.retarget(path);
    this.releaseUnused(left);
    this.watchEsp();
    followKeepaliveSpec(tunnel, before, moved);
    followMemberAuth(tunnel, moved || !sameAuth(before.auth, path.spec.auth) || before.helloInterval !== path.spec.helloInterval);
    if (moved) this.pathMtus.refresh(tunnel);
    return tunnelStatusOf(tunnel);
  }

  /**
   * Asks the far end whether this path works: resolves true when the answer arrives within
   * `timeoutMs` (default 1000), false otherwise. gre: a Cisco keepalive that must come back;
   * fou/gue: a UDP keepalive that must be echoed, or, with auth role 'member', a hello that must be
   * acknowledged (what a GRE → FOU → GUE fallback decides on). A hub-role tunnel that is not bound
   * resolves false at once: it has no verified address to probe. ipip has no probe
   * (ERR_INVALID_ARGUMENT); an unknown name is ERR_TUNNEL_NOT_FOUND.
   */
  async probe(name: string, options: { timeoutMs?: number } = {}): Promise<boolean> {
    const tunnel = this.require(name);
    const timeoutMs = options.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
    if (!Number.isFinite(timeoutMs) || timeoutMs < 1 || timeoutMs > 600_000) {
      throw new TunnelError('ERR_INVALID_ARGUMENT', `probe timeout ${String(timeoutMs)} ms is out of range 1..600000`);
    }
    if (tunnel.spec.encap === 'ipip') throw new TunnelError('ERR_INVALID_ARGUMENT', 'ipip has no keepalive format to probe with');
    if (!tunnel.sending) return false;
    const member = tunnel.member;
    if (member !== null) {
      const answered = tunnel.probes.wait('hello', timeoutMs);
      member.sayHello();
      return answered;
    }
    const answered = tunnel.probes.wait('keepalive', timeoutMs);
    sendKeepalive(tunnel);
    return answered;
  }

  /** Stops a tunnel and closes its TUN (the interface disappears with it). */
  removeTunnel(name: string): void {
    const tunnel = this.require(name);
    tunnel.close();
    this.releaseUnused([tunnel.socket, tunnel.socket6, tunnel.trap]);
    this.tunnels.delete(name);
    this.pathMtus.watch();
    this.watchEsp();
  }

  /** Status of one tunnel; ERR_TUNNEL_NOT_FOUND if none has that name. */
  tunnelStatus(name: string): TunnelStatus {
    return tunnelStatusOf(this.require(name));
  }

  /**
   * The bytes a tunnel received toward each inner destination since the last call, the fast
   * route's and the JS path's together (engine option tallyDestinations; empty without it). A few
   * entries at most, whatever the number of tunnels; ERR_TUNNEL_NOT_FOUND if none has that name.
   */
  drainDestinations(name: string): DestinationCount[] {
    const tunnel = this.require(name);
    if (tunnel.destinations === null) return [];
    const bytes = new Map<string, number>();
    for (const count of [...tunnel.destinations.drain(), ...(tunnel.fastRoute?.drainDestinations() ?? [])]) {
      bytes.set(count.address, (bytes.get(count.address) ?? 0) + count.bytes);
    }
    return [...bytes].map(([address, total]) => ({ address, bytes: total }));
  }

  /** Status of every tunnel, in creation order. */
  status(): TunnelStatus[] {
    return [...this.tunnels.values()].map(tunnelStatusOf);
  }

  /** Counters of packets that reached a shared socket but no tunnel. */
  socketStatus(): OuterSocketStatus[] {
    return [...this.sockets.values()].map(socketStatusOf);
  }

  /** Removes every tunnel and closes every socket. */
  close(): void {
    for (const name of [...this.tunnels.keys()]) this.removeTunnel(name);
  }

  /** Step 1 of update(): everything that can fail, before anything changes. */
  private prepareMove(tunnel: Tunnel, update: TunnelUpdate): { path: TunnelPath; moved: boolean } {
    const before = tunnel.spec;
    const spec = applyTunnelUpdate(before, update);
    const moved = before.remote !== spec.remote || before.local !== spec.local || before.encap !== spec.encap
      || before.remotePort !== spec.remotePort || before.localPort !== spec.localPort;
    const learnedPathMtu = moved ? null : tunnel.learnedPathMtu;
    const plan = planEncapsulation(spec, this.pathMtu, learnedPathMtu);
    const prepared = tunnel.sas.prepare(spec.esp);
    const { socket, socket6, trap } = this.acquireSocketsOrDiscard(spec, plan, tunnel.sas, prepared);
    // Sockets the tunnel already uses have users, so only the ones opened here close.
    const releaseNew = (): void => {
      tunnel.sas.discard(prepared);
      this.releaseUnused([socket, socket6, trap]);
    };
    const claimed = claimProblem(socket, socket6, trap, spec, tunnel);
    if (claimed !== null) {
      releaseNew();
      throw new TunnelError('ERR_TUNNEL_EXISTS', claimed);
    }
    if (plan.mtu !== tunnel.plan.mtu) {
      try {
        this.io.setLinkMtu(spec.name, plan.mtu);
      } catch (err) {
        releaseNew();
        throw err;
      }
    }
    return { path: tunnelPath(spec, plan, learnedPathMtu, socket, socket6, trap, prepared, this.emitBinding), moved };
  }

  /** Opens the tunnel's TUN (a TAP for gretap) with its MAC, MTU and address, up; on failure undoes it and calls `release`. */
  private openDevice(spec: TunnelSpec, plan: EncapsulationPlan, release: () => void): TunEndpoint {
    let tun;
    try {
      tun = this.io.openTun(spec.name, { tap: spec.mac !== null, forwarded: this.options.fastPath !== false && this.io.createFastRoute !== undefined });
    } catch (err) {
      release();
      throw err;
    }
    try {
      if (spec.mac !== null) this.io.setLinkAddress(spec.name, spec.mac);
      this.io.setLinkMtu(spec.name, plan.mtu);
      // A TAP is a broadcast link: its /30 needs no peer (ARP finds the other end). A gretap
      // without addresses is an L2 port for a bridge and gets none.
      if (spec.address !== null) {
        const cidr = `${spec.address}/${spec.prefixLength}`;
        if (spec.mac !== null) this.io.addAddress(spec.name, cidr);
        else this.io.addAddress(spec.name, cidr, spec.peerAddress ?? undefined);
      }
      this.io.setLinkUp(spec.name, true);
    } catch (err) {
      tun.close();
      release();
      throw err;
    }
    return tun;
  }

  /** A tunnel's SA owner, over the I/O's ESP when it has one. */
  private securityAssociationsOf(name: string): TunnelSecurityAssociations {
    const io = this.io;
    const factory: EspFactory | null = io.createEspSa !== undefined && io.createEspInbound !== undefined
      ? { createEspSa: (config) => io.createEspSa!(config), createEspInbound: () => io.createEspInbound!() } : null;
    return new TunnelSecurityAssociations(factory, name, new TunnelCounters(), (event) => this.options.onRekeyDue?.(event));
  }

  private partsOf(spec: TunnelSpec, tun: TunEndpoint, sas: TunnelSecurityAssociations): TunnelParts {
    return {
      tun,
      batches: {
        fromTun: this.io.createPacketBatch(BATCH_CAPACITY, SLOT_SIZE),
        toTun: this.io.createPacketBatch(BATCH_CAPACITY, SLOT_SIZE),
        replies: this.io.createPacketBatch(REPLY_CAPACITY, SLOT_SIZE),
      },
      counters: sas.counters,
      sas,
      liveness: new TunnelLiveness(spec.name, spec.keepaliveRetries, (event) => this.livenessChanged(event)),
      probes: new TunnelProbes(),
      nonce: randomInt(0, 0x1_0000_0000),
      destinations: this.options.tallyDestinations === true ? new DestinationTally() : null,
    };
  }

  /** Gives the tunnel a fast route when the I/O offers one; a failure undoes addTunnel. */
  private attachFastRoute(tunnel: Tunnel): void {
    if (this.options.fastPath === false || this.io.createFastRoute === undefined) return;
    try {
      tunnel.attachFastRoute(new FastRouteSync(this.io.createFastRoute(), tunnel));
    } catch (err) {
      this.removeTunnel(tunnel.spec.name);
      throw err;
    }
  }

  private livenessChanged(event: LivenessEvent): void {
    this.tunnels.get(event.name)?.livenessChanged();
    this.options.onLiveness?.(event);
  }

  private require(name: string): Tunnel {
    const tunnel = this.tunnels.get(name);
    if (tunnel === undefined) throw new TunnelError('ERR_TUNNEL_NOT_FOUND', `no tunnel named ${JSON.stringify(name)} runs here`);
    return tunnel;
  }

  /** acquireSockets, letting go of the prepared SAs when it fails. */
  private acquireSocketsOrDiscard(
    spec: TunnelSpec, plan: EncapsulationPlan, sas: TunnelSecurityAssociations, prepared: PreparedSas,
  ): { socket: OuterSocket; socket6: OuterSocket; trap: OuterSocket | null } {
    try {
      return this.acquireSockets(spec, plan);
    } catch (err) {
      sas.discard(prepared);
      throw err;
    }
  }

  /**
   * The sockets a plan sends through: one, or two for ipip over IPv6 (protocols 4 and 41); and for
   * raw ESP the raw socket of the protocol it protects, where cleartext for it would arrive.
   */
  private acquireSockets(spec: TunnelSpec, plan: EncapsulationPlan): { socket: OuterSocket; socket6: OuterSocket; trap: OuterSocket | null } {
    const socket = this.acquireSocket(spec, plan.transport);
    const opened: OuterSocket[] = [socket];
    try {
      const socket6 = plan.transport6 === plan.transport ? socket : this.acquireSocket(spec, plan.transport6);
      opened.push(socket6);
      const cleartext = plan.esp?.cleartext ?? null;
      const trap = cleartext === null ? null : this.acquireSocket(spec, cleartext);
      return { socket, socket6, trap };
    } catch (err) {
      this.releaseUnused(opened);
      throw err;
    }
  }

  /** Runs the ESP watch while some tunnel is encrypted: counters absorbed, rekeys reported. */
  private watchEsp(): void {
    const any = [...this.tunnels.values()].some((tunnel) => tunnel.sas.encrypted);
    if (any && this.espWatch === null) {
      this.espWatch = setInterval(() => {
        for (const tunnel of this.tunnels.values()) if (tunnel.sas.encrypted) tunnel.sas.absorb();
      }, ESP_WATCH_INTERVAL_MS);
      this.espWatch.unref();
    } else if (!any && this.espWatch !== null) {
      clearInterval(this.espWatch);
      this.espWatch = null;
    }
  }

  private acquireSocket(spec: TunnelSpec, transport: OuterTransport): OuterSocket {
    const local = spec.outerFamily === 6 ? `[${spec.local}]` : spec.local;
    const id = transport === 'udp' ? `udp ${local}:${spec.localPort}` : `${transport} ${spec.local}`;
    const existing = this.sockets.get(id);
    if (existing !== undefined) {
      if (existing.ttl !== spec.ttl) {
        throw new TunnelError('ERR_INVALID_CONFIG', `tunnels sharing ${id} must share one outer ttl (${existing.ttl}, not ${spec.ttl})`);
      }
      return existing;
    }
    const endpoint = transport === 'udp'
      ? this.io.openUdpSocket(spec.local, spec.localPort, { ttl: spec.ttl })
      : this.io.openRawSocket(RAW_PROTOCOL[transport], spec.local, { ttl: spec.ttl });
    const socket = new OuterSocket(id, transport, spec.outerFamily, spec.local, spec.localPort, spec.ttl, endpoint,
      this.io.createPacketBatch(BATCH_CAPACITY, SLOT_SIZE), this.io.createPacketBatch(CONTROL_CAPACITY, SLOT_SIZE));
    endpoint.onReadable(() => {
      this.pathMtus.applyReports(socket);
      receiveFromOuter(socket, this.targets, this.touched);
    });
    this.sockets.set(id, socket);
    return socket;
  }

  /** Closes each of these sockets no tunnel uses any more. */
  private releaseUnused(sockets: readonly (TunnelSocket | null)[]): void {
    for (const socket of new Set(sockets)) {
      if (socket === null || socket.users > 0) continue;
      this.sockets.delete(socket.id);
      socket.endpoint.close();
    }
  }
}
