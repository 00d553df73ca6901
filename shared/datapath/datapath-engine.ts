import { randomInt } from 'node:crypto';
import { TunnelError } from '../errors.js';
import type { DatapathIo } from './datapath-io.js';
import { DEFAULT_PATH_MTU, planEncapsulation, type EncapsulationPlan, type OuterTransport } from './encapsulation-plan.js';
import { absorbFastRouteCounters, syncFastRoute } from './fast-route-sync.js';
import { receiveFromOuter } from './outer-receive.js';
import { outerKeyOf } from './outer-address.js';
import { NO_GRE_KEY, OuterSocket } from './outer-socket.js';
import { PathMtuWatch, type PathMtuEvent } from './path-mtu-watch.js';
import { sendKeepalive } from './tunnel-keepalive.js';
import { TunnelLiveness, type LivenessEvent } from './tunnel-liveness.js';
import {
  applyTunnelUpdate, sameAuth, validateTunnelSpec, type TunnelSpec, type TunnelSpecInput, type TunnelUpdate,
} from './tunnel-spec.js';
import { socketStatusOf, tunnelStatusOf, type OuterSocketStatus, type TunnelStatus } from './tunnel-status.js';
import { transmitFromTun } from './tunnel-transmit.js';
import { Tunnel } from './tunnel.js';
import type { BindingEvent } from './udp-binding-event.js';
import { armBindingExpiry, HubBinding, unbindHubTunnel } from './udp-binding-hub.js';
import { MemberBinding, sendMemberHello, startMemberHellos, stopMemberHellos } from './udp-binding-member.js';

export type { BindingStatus, OuterSocketStatus, TunnelStatus } from './tunnel-status.js';

/** Packets per batch: one JS↔native crossing moves up to this many. */
export const BATCH_CAPACITY = 64;

/** Bytes per batch slot: an Ethernet-sized packet plus headroom, with room to spare. */
export const SLOT_SIZE = 2048;

const REPLY_CAPACITY = 8;
const CONTROL_CAPACITY = 1;

/** The IP protocol of each raw outer transport. */
const RAW_PROTOCOL = { gre: 47, ipip: 4, ipv6: 41 } as const;

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
   * Let the I/O's fast routes move the common packets without waking JS (default true). Off, every
   * packet goes through the JS path; the wire behaviour is the same either way.
   */
  fastPath?: boolean;
}

/** Default time a probe waits for its answer. */
export const DEFAULT_PROBE_TIMEOUT_MS = 1000;

/**
 * The userspace datapath: many tunnels in one process, each with its own TUN device, sharing
 * outer sockets (one raw socket per protocol and local address, one UDP socket per local address
 * and port). Every public method either completes or throws a coded TunnelError leaving the
 * engine as it was.
 */
export class DatapathEngine {
  private readonly tunnels = new Map<string, Tunnel>();
  private readonly sockets = new Map<string, OuterSocket>();
  private readonly pathMtu: number;
  // Scratch space of the receive path, shared by every socket (callbacks never nest).
  private readonly targets: (Tunnel | null)[] = new Array<Tunnel | null>(BATCH_CAPACITY).fill(null);
  private readonly pathMtus: PathMtuWatch;
  private readonly touched: Tunnel[] = [];

  constructor(private readonly io: DatapathIo, private readonly options: DatapathEngineOptions = {}) {
    this.pathMtu = options.pathMtu ?? DEFAULT_PATH_MTU;
    this.pathMtus = new PathMtuWatch(io, this.tunnels, this.pathMtu, (event) => this.options.onPathMtu?.(event));
  }

  /** Creates a tunnel: its TUN (MTU, address, up), its place in a shared outer socket, its keepalive. */
  addTunnel(input: TunnelSpecInput): TunnelStatus {
    const spec = validateTunnelSpec(input);
    if (this.tunnels.has(spec.name)) throw new TunnelError('ERR_TUNNEL_EXISTS', `a tunnel named ${spec.name} already runs here`);
    const plan = planEncapsulation(spec, this.pathMtu);
    const { socket, socket6 } = this.acquireSockets(spec, plan);
    const release = (): void => this.releaseAllUnused([socket, socket6]);
    const subKey = subKeyOf(spec, plan);
    const claimed = claimProblem(socket, spec, plan) ?? (socket6 !== socket ? claimProblem(socket6, spec, plan) : null);
    if (claimed !== null) {
      release();
      throw new TunnelError('ERR_TUNNEL_EXISTS', claimed);
    }
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
    const batches = {
      fromTun: this.io.createPacketBatch(BATCH_CAPACITY, SLOT_SIZE),
      toTun: this.io.createPacketBatch(BATCH_CAPACITY, SLOT_SIZE),
      replies: this.io.createPacketBatch(REPLY_CAPACITY, SLOT_SIZE),
    };
    const liveness = new TunnelLiveness(spec.name, spec.keepaliveRetries, (event) => this.livenessChanged(event));
    const tunnel = new Tunnel(spec, plan, socket, socket6, subKey, tun, batches, liveness, randomInt(0, 0x1_0000_0000));
    socket.attach(tunnel);
    socket6.attach(tunnel);
    this.joinSocket(tunnel);
    this.tunnels.set(spec.name, tunnel);
    tun.onReadable(() => {
      try {
        transmitFromTun(tunnel);
      } catch {
        tunnel.counters.txDrop('internal');
      }
    });
    this.configureKeepalive(tunnel, true);
    this.syncMember(tunnel, true);
    this.attachFastRoute(tunnel);
    this.pathMtus.refresh(tunnel);
    this.pathMtus.watch();
    return tunnelStatusOf(tunnel);
  }

  /**
   * Changes a running tunnel's remote, local address, ports, key, encapsulation, MTU, TTL or
   * keepalive without touching its TUN device (only its MTU when that changes). Packets already
   * read keep the old settings; the next batch uses the new ones. A new outer path (remote, local,
   * encapsulation) forgets the path MTU ICMP reported on the old one.
   */
  update(name: string, update: TunnelUpdate): TunnelStatus {
    const tunnel = this.require(name);
    const before = tunnel.spec;
    const spec = applyTunnelUpdate(before, update);
    const moved = before.remote !== spec.remote || before.local !== spec.local || before.encap !== spec.encap
      || before.remotePort !== spec.remotePort || before.localPort !== spec.localPort;
    const learnedPathMtu = moved ? null : tunnel.learnedPathMtu;
    const plan = planEncapsulation(spec, this.pathMtu, learnedPathMtu);
    const { socket, socket6 } = this.acquireSockets(spec, plan);
    const oldSocket = tunnel.socket;
    const oldSocket6 = tunnel.socket6;
    const releaseNew = (): void => this.releaseAllUnused([socket, socket6].filter((s) => s !== oldSocket && s !== oldSocket6));
    const subKey = subKeyOf(spec, plan);
    const claimed = claimProblem(socket, spec, plan, tunnel) ?? (socket6 !== socket ? claimProblem(socket6, spec, plan, tunnel) : null);
    if (claimed !== null) {
      releaseNew();
      throw new TunnelError('ERR_TUNNEL_EXISTS', claimed);
    }
    if (plan.mtu !== tunnel.plan.mtu) {
      try {
        this.io.setLinkMtu(name, plan.mtu);
      } catch (err) {
        releaseNew();
        throw err;
      }
    }
    // A hub's binding names a NAT mapping toward this socket: it survives anything but a new
    // socket or encapsulation (a re-keyed session included: the address was verified already).
    const keepsBinding = tunnel.hub !== null && spec.auth?.role === 'hub' && socket === oldSocket && before.encap === spec.encap;
    if (keepsBinding) socket.bindings.delete(tunnel.hub!.bindingId);
    else this.leaveSocket(tunnel, true);
    for (const old of [oldSocket, oldSocket6]) if (old !== socket && old !== socket6) old.detach(tunnel);
    socket.attach(tunnel);
    socket6.attach(tunnel);
    tunnel.retarget(spec, plan, socket, subKey, socket6);
    tunnel.learnedPathMtu = learnedPathMtu;
    if (keepsBinding) this.keepHubBinding(tunnel, before);
    else this.joinSocket(tunnel);
    this.releaseAllUnused([oldSocket, oldSocket6].filter((s) => s !== socket && s !== socket6));
    tunnel.liveness.retries = spec.keepaliveRetries;
    if (moved || before.keepaliveInterval !== spec.keepaliveInterval) this.configureKeepalive(tunnel, moved);
    this.syncMember(tunnel, moved || !sameAuth(before.auth, spec.auth) || before.helloInterval !== spec.helloInterval);
    syncFastRoute(tunnel);
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
    if (tunnel.unbound) return false;
    if (tunnel.member !== null) {
      const answered = tunnel.probes.wait('hello', timeoutMs);
      sendMemberHello(tunnel);
      return answered;
    }
    const answered = tunnel.probes.wait('keepalive', timeoutMs);
    sendKeepalive(tunnel);
    return answered;
  }

  /** Stops a tunnel and closes its TUN (the interface disappears with it). */
  removeTunnel(name: string): void {
    const tunnel = this.require(name);
    tunnel.closed = true;
    tunnel.fastRoute?.close();
    if (tunnel.keepalive.timer !== null) clearInterval(tunnel.keepalive.timer);
    this.leaveSocket(tunnel, false);
    if (tunnel.member !== null) stopMemberHellos(tunnel);
    tunnel.probes.cancelAll();
    tunnel.socket.detach(tunnel);
    tunnel.socket6.detach(tunnel);
    this.releaseAllUnused([tunnel.socket, tunnel.socket6]);
    this.tunnels.delete(name);
    tunnel.tun.close();
    this.pathMtus.watch();
  }

  /** Status of one tunnel; ERR_TUNNEL_NOT_FOUND if none has that name. */
  tunnelStatus(name: string): TunnelStatus {
    return tunnelStatusOf(this.require(name));
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

  /** Gives the tunnel a fast route when the I/O offers one; a failure undoes addTunnel. */
  private attachFastRoute(tunnel: Tunnel): void {
    if (this.options.fastPath === false || this.io.createFastRoute === undefined) return;
    try {
      tunnel.fastRoute = this.io.createFastRoute();
      syncFastRoute(tunnel);
    } catch (err) {
      this.removeTunnel(tunnel.spec.name);
      throw err;
    }
  }

  /** A tunnel's liveness changed: its fast route receives only while it is up. */
  private livenessChanged(event: LivenessEvent): void {
    const tunnel = this.tunnels.get(event.name);
    if (tunnel !== undefined) syncFastRoute(tunnel);
    this.options.onLiveness?.(event);
  }

  private require(name: string): Tunnel {
    const tunnel = this.tunnels.get(name);
    if (tunnel === undefined) throw new TunnelError('ERR_TUNNEL_NOT_FOUND', `no tunnel named ${JSON.stringify(name)} runs here`);
    return tunnel;
  }

  /** The sockets a plan sends through: one, or two for ipip over IPv6 (protocols 4 and 41). */
  private acquireSockets(spec: TunnelSpec, plan: EncapsulationPlan): { socket: OuterSocket; socket6: OuterSocket } {
    const socket = this.acquireSocket(spec, plan.transport);
    if (plan.transport6 === plan.transport) return { socket, socket6: socket };
    try {
      return { socket, socket6: this.acquireSocket(spec, plan.transport6) };
    } catch (err) {
      this.releaseIfUnused(socket);
      throw err;
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

  /**
   * Takes the tunnel's place on its socket: a hub-role tunnel in the binding table (unbound until
   * a verified hello), any other in the demux table under its remote.
   */
  private joinSocket(tunnel: Tunnel): void {
    const auth = tunnel.spec.auth;
    if (auth?.role === 'hub') {
      tunnel.hub = new HubBinding(auth.bindingId, auth.key, (event) => this.options.onBinding?.(event));
      tunnel.unbound = true;
      tunnel.socket.bindings.set(auth.bindingId, tunnel);
    } else {
      for (const socket of new Set([tunnel.socket, tunnel.socket6])) {
        // A configured remote outranks a claimed one: a hub-role tunnel bound there (a hello
        // that came, or was forged, from that address:port) gives it up.
        const holder = socket.lookup(tunnel.remoteAddress, tunnel.subKey);
        if (holder !== undefined && holder !== tunnel && holder.hub !== null) unbindHubTunnel(holder, 'displaced');
        socket.register(tunnel, tunnel.remoteAddress, tunnel.subKey);
      }
    }
  }

  /** Gives up the tunnel's place on its socket; a bound hub tunnel publishes `reset` when asked. */
  private leaveSocket(tunnel: Tunnel, publish: boolean): void {
    const hub = tunnel.hub;
    if (hub === null) {
      tunnel.socket.unregister(tunnel, tunnel.remoteAddress, tunnel.subKey);
      if (tunnel.socket6 !== tunnel.socket) tunnel.socket6.unregister(tunnel, tunnel.remoteAddress, tunnel.subKey);
      return;
    }
    if (publish) {
      unbindHubTunnel(tunnel, 'reset');
    } else {
      if (hub.expiry !== null) clearTimeout(hub.expiry);
      if (hub.address !== null) tunnel.socket.unregister(tunnel, tunnel.remoteAddress, tunnel.subKey);
    }
    if (tunnel.socket.bindings.get(hub.bindingId) === tunnel) tunnel.socket.bindings.delete(hub.bindingId);
    tunnel.hub = null;
    tunnel.unbound = false;
  }

  /** After an update that keeps a hub's binding: the bound address stays the send target. */
  private keepHubBinding(tunnel: Tunnel, before: TunnelSpec): void {
    const hub = tunnel.hub!;
    const auth = tunnel.spec.auth!;
    if (!sameAuth(before.auth, auth)) hub.rekey(auth.bindingId, auth.key);
    tunnel.socket.bindings.set(auth.bindingId, tunnel);
    if (hub.address === null) return;
    tunnel.remoteAddress = hub.address;
    tunnel.remotePort = hub.port;
    tunnel.subKey = hub.port;
    if (before.bindingTimeout !== tunnel.spec.bindingTimeout) armBindingExpiry(tunnel);
  }

  /** Creates, re-keys or drops the member end of an authenticated path; `restart` says hello now. */
  private syncMember(tunnel: Tunnel, restart: boolean): void {
    const auth = tunnel.spec.auth;
    if (auth?.role !== 'member') {
      if (tunnel.member !== null) {
        stopMemberHellos(tunnel);
        tunnel.member = null;
      }
      return;
    }
    if (tunnel.member === null) {
      tunnel.member = new MemberBinding(auth.bindingId, auth.key);
      restart = true;
    } else if (tunnel.member.bindingId !== auth.bindingId || !tunnel.member.key.equals(auth.key)) {
      tunnel.member.rekey(auth.bindingId, auth.key);
    }
    if (restart) startMemberHellos(tunnel);
  }

  private releaseAllUnused(sockets: OuterSocket[]): void {
    for (const socket of new Set(sockets)) this.releaseIfUnused(socket);
  }

  private releaseIfUnused(socket: OuterSocket): void {
    if (socket.users > 0) return;
    this.sockets.delete(socket.id);
    socket.endpoint.close();
  }

  /** (Re)starts the keepalive timer; ipip and interval 0 track no liveness and read as up. */
  private configureKeepalive(tunnel: Tunnel, probeNow: boolean): void {
    if (tunnel.keepalive.timer !== null) clearInterval(tunnel.keepalive.timer);
    tunnel.keepalive.timer = null;
    const { keepaliveInterval, encap } = tunnel.spec;
    if (keepaliveInterval === 0 || encap === 'ipip') {
      tunnel.liveness.state = 'up';
      tunnel.liveness.missed = 0;
      return;
    }
    tunnel.keepalive.timer = setInterval(() => {
      absorbFastRouteCounters(tunnel);
      tunnel.liveness.tick();
      sendKeepalive(tunnel);
      // A member that missed an interval may have been re-mapped by its NAT: hello now, not later.
      const member = tunnel.member;
      if (member !== null && tunnel.liveness.missed > 0 && member.outstanding === null) sendMemberHello(tunnel);
    }, keepaliveInterval * 1000);
    tunnel.keepalive.timer.unref();
    if (probeNow) sendKeepalive(tunnel);
  }
}

/** Why `spec` cannot take its place on `socket` (another tunnel holds it), or null. */
function claimProblem(socket: OuterSocket, spec: TunnelSpec, plan: EncapsulationPlan, except?: Tunnel): string | null {
  if (spec.auth?.role === 'hub') {
    const holder = socket.bindings.get(spec.auth.bindingId);
    return holder !== undefined && holder !== except ? `another tunnel already has binding id ${spec.auth.bindingId} on ${socket.id}` : null;
  }
  // A hub-role holder only claimed the address:port with a hello; joinSocket displaces it.
  const holder = socket.lookup(outerKeyOf(spec.remote), subKeyOf(spec, plan));
  return holder !== undefined && holder !== except && holder.hub === null
    ? `another tunnel already receives ${describeDemux(spec, plan)}` : null;
}

function subKeyOf(spec: TunnelSpec, plan: EncapsulationPlan): number {
  if (plan.transport === 'udp') return spec.remotePort;
  if (plan.transport === 'gre') return spec.key ?? NO_GRE_KEY;
  return 0;
}

function describeDemux(spec: TunnelSpec, plan: EncapsulationPlan): string {
  if (plan.transport === 'udp') return `UDP from ${spec.remote}:${spec.remotePort} on ${spec.local}:${spec.localPort}`;
  if (plan.transport === 'gre') return `GRE from ${spec.remote}${spec.key === null ? ' without a key' : ` with key ${spec.key}`} on ${spec.local}`;
  return `IPIP from ${spec.remote} on ${spec.local}`;
}
