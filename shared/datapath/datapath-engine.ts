import { randomInt } from 'node:crypto';
import { TunnelError } from '../errors.js';
import { parseIpv4Address } from '../net/ipv4-address.js';
import type { DatapathIo } from './datapath-io.js';
import { DEFAULT_PATH_MTU, planEncapsulation, type EncapsulationPlan } from './encapsulation-plan.js';
import { receiveFromOuter } from './outer-receive.js';
import { NO_GRE_KEY, OuterSocket } from './outer-socket.js';
import type { DirectionStats } from './tunnel-counters.js';
import { sendKeepalive } from './tunnel-keepalive.js';
import { TunnelLiveness, type LivenessEvent, type LivenessState } from './tunnel-liveness.js';
import { applyTunnelUpdate, validateTunnelSpec, type TunnelSpec, type TunnelSpecInput, type TunnelUpdate } from './tunnel-spec.js';
import { transmitFromTun } from './tunnel-transmit.js';
import { Tunnel } from './tunnel.js';

/** Packets per batch: one JS↔native crossing moves up to this many. */
export const BATCH_CAPACITY = 64;

/** Bytes per batch slot: an Ethernet-sized packet plus headroom, with room to spare. */
export const SLOT_SIZE = 2048;

const REPLY_CAPACITY = 8;
const CONTROL_CAPACITY = 1;

/** Options of the engine. */
export interface DatapathEngineOptions {
  /** Outer path MTU used to derive tunnel MTUs (default 1500). */
  pathMtu?: number;
  /** Called on every liveness change (also published on `tunnel:datapath:liveness`). */
  onLiveness?: (event: LivenessEvent) => void;
}

/** What `status` reports per tunnel: INTERFACE.md's fields plus key, ports, drops and liveness. */
export interface TunnelStatus {
  name: string;
  state: LivenessState;
  encap: TunnelSpec['encap'];
  local: string;
  remote: string;
  key: number | null;
  localPort: number | null;
  remotePort: number | null;
  inner: string;
  peerInner: string;
  mtu: number;
  ttl: number;
  mssClamp: boolean;
  rx: DirectionStats;
  tx: DirectionStats;
  dropsByReason: Record<string, number>;
  liveness: {
    tracked: boolean;
    keepaliveInterval: number;
    keepaliveRetries: number;
    missed: number;
    lastHeardAt: string | null;
    rttMs: number | null;
  };
}

/** Packets a shared outer socket could not hand to any tunnel. */
export interface OuterSocketStatus {
  id: string;
  tunnels: number;
  rx: DirectionStats;
  dropsByReason: Record<string, number>;
}

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
  private readonly touched: Tunnel[] = [];

  constructor(private readonly io: DatapathIo, private readonly options: DatapathEngineOptions = {}) {
    this.pathMtu = options.pathMtu ?? DEFAULT_PATH_MTU;
  }

  /** Creates a tunnel: its TUN (MTU, address, up), its place in a shared outer socket, its keepalive. */
  addTunnel(input: TunnelSpecInput): TunnelStatus {
    const spec = validateTunnelSpec(input);
    if (this.tunnels.has(spec.name)) throw new TunnelError('ERR_TUNNEL_EXISTS', `a tunnel named ${spec.name} already runs here`);
    const plan = planEncapsulation(spec, this.pathMtu);
    const socket = this.acquireSocket(spec, plan);
    const remote = parseIpv4Address(spec.remote);
    const subKey = subKeyOf(spec, plan);
    if (socket.isTaken(remote, subKey)) {
      this.releaseIfUnused(socket);
      throw new TunnelError('ERR_TUNNEL_EXISTS', `another tunnel already receives ${describeDemux(spec, plan)}`);
    }
    let tun;
    try {
      tun = this.io.openTun(spec.name);
    } catch (err) {
      this.releaseIfUnused(socket);
      throw err;
    }
    try {
      this.io.setLinkMtu(spec.name, plan.mtu);
      this.io.addAddress(spec.name, `${spec.address}/${spec.prefixLength}`, spec.peerAddress);
      this.io.setLinkUp(spec.name, true);
    } catch (err) {
      tun.close();
      this.releaseIfUnused(socket);
      throw err;
    }
    const batches = {
      fromTun: this.io.createPacketBatch(BATCH_CAPACITY, SLOT_SIZE),
      toTun: this.io.createPacketBatch(BATCH_CAPACITY, SLOT_SIZE),
      replies: this.io.createPacketBatch(REPLY_CAPACITY, SLOT_SIZE),
    };
    const liveness = new TunnelLiveness(spec.name, spec.keepaliveRetries, (event) => this.options.onLiveness?.(event));
    const tunnel = new Tunnel(spec, plan, socket, subKey, tun, batches, liveness, randomInt(0, 0x1_0000_0000));
    socket.register(tunnel, remote, subKey);
    this.tunnels.set(spec.name, tunnel);
    tun.onReadable(() => {
      try {
        transmitFromTun(tunnel);
      } catch {
        tunnel.counters.txDrop('internal');
      }
    });
    this.configureKeepalive(tunnel, true);
    return this.statusOf(tunnel);
  }

  /**
   * Changes a running tunnel's remote, local address, ports, key, encapsulation, MTU, TTL or
   * keepalive without touching its TUN device (only its MTU when that changes). Packets already
   * read keep the old settings; the next batch uses the new ones.
   */
  update(name: string, update: TunnelUpdate): TunnelStatus {
    const tunnel = this.require(name);
    const spec = applyTunnelUpdate(tunnel.spec, update);
    const plan = planEncapsulation(spec, this.pathMtu);
    const socket = this.acquireSocket(spec, plan);
    const remote = parseIpv4Address(spec.remote);
    const subKey = subKeyOf(spec, plan);
    if (socket.isTaken(remote, subKey, tunnel)) {
      if (socket !== tunnel.socket) this.releaseIfUnused(socket);
      throw new TunnelError('ERR_TUNNEL_EXISTS', `another tunnel already receives ${describeDemux(spec, plan)}`);
    }
    if (plan.mtu !== tunnel.plan.mtu) {
      try {
        this.io.setLinkMtu(name, plan.mtu);
      } catch (err) {
        if (socket !== tunnel.socket) this.releaseIfUnused(socket);
        throw err;
      }
    }
    const before = tunnel.spec;
    const oldSocket = tunnel.socket;
    oldSocket.unregister(tunnel, tunnel.remoteAddress, tunnel.subKey);
    socket.register(tunnel, remote, subKey);
    tunnel.retarget(spec, plan, socket, subKey);
    if (oldSocket !== socket) this.releaseIfUnused(oldSocket);
    tunnel.liveness.retries = spec.keepaliveRetries;
    const moved = before.remote !== spec.remote || before.local !== spec.local || before.encap !== spec.encap
      || before.remotePort !== spec.remotePort || before.localPort !== spec.localPort;
    if (moved || before.keepaliveInterval !== spec.keepaliveInterval) this.configureKeepalive(tunnel, moved);
    return this.statusOf(tunnel);
  }

  /** Stops a tunnel and closes its TUN (the interface disappears with it). */
  removeTunnel(name: string): void {
    const tunnel = this.require(name);
    tunnel.closed = true;
    if (tunnel.keepalive.timer !== null) clearInterval(tunnel.keepalive.timer);
    tunnel.socket.unregister(tunnel, tunnel.remoteAddress, tunnel.subKey);
    this.releaseIfUnused(tunnel.socket);
    this.tunnels.delete(name);
    tunnel.tun.close();
  }

  /** Status of one tunnel; ERR_TUNNEL_NOT_FOUND if none has that name. */
  tunnelStatus(name: string): TunnelStatus {
    return this.statusOf(this.require(name));
  }

  /** Status of every tunnel, in creation order. */
  status(): TunnelStatus[] {
    return [...this.tunnels.values()].map((tunnel) => this.statusOf(tunnel));
  }

  /** Counters of packets that reached a shared socket but no tunnel. */
  socketStatus(): OuterSocketStatus[] {
    return [...this.sockets.values()].map((socket) => {
      const snapshot = socket.unmatched.snapshot();
      return { id: socket.id, tunnels: socket.users, rx: snapshot.rx, dropsByReason: snapshot.dropsByReason };
    });
  }

  /** Removes every tunnel and closes every socket. */
  close(): void {
    for (const name of [...this.tunnels.keys()]) this.removeTunnel(name);
  }

  private require(name: string): Tunnel {
    const tunnel = this.tunnels.get(name);
    if (tunnel === undefined) throw new TunnelError('ERR_TUNNEL_NOT_FOUND', `no tunnel named ${JSON.stringify(name)} runs here`);
    return tunnel;
  }

  private acquireSocket(spec: TunnelSpec, plan: EncapsulationPlan): OuterSocket {
    const id = plan.transport === 'udp' ? `udp ${spec.local}:${spec.localPort}` : `${plan.transport} ${spec.local}`;
    const existing = this.sockets.get(id);
    if (existing !== undefined) {
      if (existing.ttl !== spec.ttl) {
        throw new TunnelError('ERR_INVALID_CONFIG', `tunnels sharing ${id} must share one outer ttl (${existing.ttl}, not ${spec.ttl})`);
      }
      return existing;
    }
    const endpoint = plan.transport === 'udp'
      ? this.io.openUdpSocket(spec.local, spec.localPort, { ttl: spec.ttl })
      : this.io.openRawSocket(plan.transport === 'gre' ? 47 : 4, spec.local, { ttl: spec.ttl });
    const socket = new OuterSocket(id, plan.transport, spec.local, spec.localPort, spec.ttl, endpoint,
      this.io.createPacketBatch(BATCH_CAPACITY, SLOT_SIZE), this.io.createPacketBatch(CONTROL_CAPACITY, SLOT_SIZE));
    endpoint.onReadable(() => receiveFromOuter(socket, this.targets, this.touched));
    this.sockets.set(id, socket);
    return socket;
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
      tunnel.liveness.tick();
      sendKeepalive(tunnel);
    }, keepaliveInterval * 1000);
    tunnel.keepalive.timer.unref();
    if (probeNow) sendKeepalive(tunnel);
  }

  private statusOf(tunnel: Tunnel): TunnelStatus {
    const { spec, plan, liveness, keepalive } = tunnel;
    const counters = tunnel.counters.snapshot();
    const udp = plan.transport === 'udp';
    const tracked = tunnel.keepalive.timer !== null;
    return {
      name: spec.name,
      state: liveness.state,
      encap: spec.encap,
      local: spec.local,
      remote: spec.remote,
      key: spec.key,
      localPort: udp ? spec.localPort : null,
      remotePort: udp ? spec.remotePort : null,
      inner: `${spec.address}/${spec.prefixLength}`,
      peerInner: spec.peerAddress,
      mtu: plan.mtu,
      ttl: spec.ttl,
      mssClamp: spec.mssClamp,
      rx: counters.rx,
      tx: counters.tx,
      dropsByReason: counters.dropsByReason,
      liveness: {
        tracked,
        keepaliveInterval: spec.keepaliveInterval,
        keepaliveRetries: spec.keepaliveRetries,
        missed: liveness.missed,
        lastHeardAt: liveness.lastHeardAt === null ? null : new Date(liveness.lastHeardAt).toISOString(),
        rttMs: keepalive.rttMs,
      },
    };
  }
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
