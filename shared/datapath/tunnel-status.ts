import { absorbFastRouteCounters } from './fast-route-sync.js';
import { formatOuterKey } from './outer-address.js';
import type { OuterSocket } from './outer-socket.js';
import type { DirectionStats } from './tunnel-counters.js';
import type { LivenessState } from './tunnel-liveness.js';
import type { BindingRole, TunnelSpec } from './tunnel-spec.js';
import type { Tunnel } from './tunnel.js';

/** The authenticated UDP binding of a tunnel with `auth`, as status shows it (never the key). */
export interface BindingStatus {
  role: BindingRole;
  bindingId: number;
  /** hub: 'bound' to a verified address:port or 'unbound'; member: 'acked' or 'waiting' for an ack. */
  state: 'bound' | 'unbound' | 'acked' | 'waiting';
  /** hub: the bound address:port; member: where the hub saw our last acknowledged hello come from. */
  address: string | null;
  port: number | null;
  /** hub: when the current address:port was bound. */
  boundAt: string | null;
  /** hub: the last valid hello; member: the last hello sent. */
  lastHelloAt: string | null;
  /** member: the last valid ack. */
  lastAckAt: string | null;
  /** hub: the last counter accepted; member: the last counter sent (decimal, 64 bits). */
  counter: string;
  /** hub: hellos accepted; member: hellos sent. */
  hellos: number;
  helloInterval: number;
  bindingTimeout: number;
  /** member: round trip of the last acknowledged hello. */
  rttMs: number | null;
}

/** What `status` reports per tunnel: INTERFACE.md's fields plus key, ports, drops and liveness. */
export interface TunnelStatus {
  name: string;
  state: LivenessState;
  encap: TunnelSpec['encap'];
  local: string;
  remote: string;
  /** The outer path's family. */
  outerFamily: 'ipv4' | 'ipv6';
  /** gretap: the TAP's MAC address (the same on every start); null for the IP encapsulations. */
  mac: string | null;
  /** The outer path MTU ICMP Packet Too Big reported (lowering `mtu`), or null while none did. */
  pathMtu: number | null;
  key: number | null;
  localPort: number | null;
  remotePort: number | null;
  /** This end's inner address with its prefix and the other end's; null on a gretap bridge port without addresses. */
  inner: string | null;
  peerInner: string | null;
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
  /** The authenticated UDP binding, or null for a tunnel without `auth`. */
  binding: BindingStatus | null;
  /** Packets the native fast route moved without JS (included in rx/tx), or null when it is off. */
  fastPath: { rxPackets: number; txPackets: number } | null;
  /**
   * The TUN's offloads, or null when they are off (TUNNEL_OFFLOAD=off, or a kernel without them):
   * TCP super-packets the kernel handed over and the segments they became; received segments
   * merged into super-packets and the writes that carried them.
   */
  offload: { superPackets: number; segments: number; mergedWrites: number; mergedSegments: number } | null;
  /**
   * Packets read from each of the TUN's queues (one entry per queue: several when TUNNEL_QUEUES
   * or the cores gave it several, each read by a forwarding thread of its own), or null where the
   * I/O does not count them.
   */
  queues: number[] | null;
  /** Inner sources accepted from the remote (null: any), and the packets dropped for another source. */
  sources: readonly string[] | null;
  spoofed: number;
}

/** Packets a shared outer socket could not hand to any tunnel. */
export interface OuterSocketStatus {
  id: string;
  tunnels: number;
  rx: DirectionStats;
  dropsByReason: Record<string, number>;
}

/** A tunnel's status, after adding what its fast route moved to its counters. */
export function tunnelStatusOf(tunnel: Tunnel): TunnelStatus {
  absorbFastRouteCounters(tunnel);
  const { spec, plan, liveness, keepalive } = tunnel;
  const counters = tunnel.counters.snapshot();
  const udp = plan.transport === 'udp';
  const tracked = tunnel.keepalive.timer !== null;
  return {
    name: spec.name,
    // A hub-role tunnel without a verified address:port is down whatever its keepalive says.
    state: tunnel.unbound ? 'down' : liveness.state,
    encap: spec.encap,
    local: spec.local,
    // A hub-role tunnel's remote is its bound address:port; the spec's is only a hint.
    remote: tunnel.hub?.address != null ? formatOuterKey(tunnel.hub.address) : spec.remote,
    outerFamily: spec.outerFamily === 6 ? 'ipv6' : 'ipv4',
    mac: spec.mac,
    key: spec.key,
    localPort: udp ? spec.localPort : null,
    remotePort: udp ? (tunnel.hub?.address != null ? tunnel.hub.port : spec.remotePort) : null,
    inner: spec.address === null ? null : `${spec.address}/${spec.prefixLength}`,
    peerInner: spec.peerAddress,
    mtu: plan.mtu,
    pathMtu: tunnel.learnedPathMtu,
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
    binding: bindingStatusOf(tunnel),
    fastPath: tunnel.fastRoute === null ? null : { rxPackets: tunnel.fastRouteSeen.rxPackets, txPackets: tunnel.fastRouteSeen.txPackets },
    offload: offloadStatusOf(tunnel),
    queues: tunnel.tun.queueReads === undefined || tunnel.tun.closed ? null : tunnel.tun.queueReads(),
    sources: spec.sources?.prefixes ?? null,
    spoofed: counters.dropsByReason['rx:spoofed'] ?? 0,
  };
}

/** A shared socket's own counters: packets that reached it but no tunnel. */
export function socketStatusOf(socket: OuterSocket): OuterSocketStatus {
  const snapshot = socket.unmatched.snapshot();
  return { id: socket.id, tunnels: socket.users, rx: snapshot.rx, dropsByReason: snapshot.dropsByReason };
}

function offloadStatusOf(tunnel: Tunnel): TunnelStatus['offload'] {
  const tun = tunnel.tun;
  if (tun.offload !== true || tun.offloadCounters === undefined || tun.closed) return null;
  const { superPackets, segments, mergedWrites, mergedSegments } = tun.offloadCounters();
  return { superPackets, segments, mergedWrites, mergedSegments };
}

function bindingStatusOf(tunnel: Tunnel): BindingStatus | null {
  const { spec, hub, member } = tunnel;
  const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
  const common = { helloInterval: spec.helloInterval, bindingTimeout: spec.bindingTimeout };
  if (hub !== null) {
    return {
      role: 'hub',
      bindingId: hub.bindingId,
      state: hub.address === null ? 'unbound' : 'bound',
      address: hub.address === null ? null : formatOuterKey(hub.address),
      port: hub.address === null ? null : hub.port,
      boundAt: iso(hub.boundAt),
      lastHelloAt: iso(hub.lastHelloAt),
      lastAckAt: null,
      counter: hub.lastCounter < 0n ? '' : hub.lastCounter.toString(),
      hellos: hub.hellosAccepted,
      ...common,
      rttMs: null,
    };
  }
  if (member !== null) {
    return {
      role: 'member',
      bindingId: member.bindingId,
      state: member.outstanding === null && member.lastAckAt !== null ? 'acked' : 'waiting',
      address: member.observed === null ? null : formatOuterKey(member.observed.address),
      port: member.observed === null ? null : member.observed.port,
      boundAt: null,
      lastHelloAt: member.outstanding === null ? null : iso(member.outstanding.sentAt),
      lastAckAt: iso(member.lastAckAt),
      counter: member.counter.toString(),
      hellos: member.hellosSent,
      ...common,
      rttMs: member.rttMs,
    };
  }
  return null;
}
