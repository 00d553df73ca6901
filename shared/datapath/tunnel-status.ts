import type { BindingStatus } from './binding-status.js';
import type { OuterSocket } from './outer-socket.js';
import type { DirectionStats } from './tunnel-counters.js';
import type { LivenessState } from './tunnel-liveness.js';
import type { TunnelSpec } from './tunnel-spec.js';
import type { Tunnel } from './tunnel.js';

/** What `status` reports per tunnel: the fields of docs/cli.md plus key, ports, drops and liveness. */
export interface TunnelStatus {
  name: string;
  /** The interface its packets use: its own (named like the tunnel), or the device it shares with others. */
  device: string;
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
  /** ESP protects the tunnel (`esp` in its spec): every packet leaves sealed, cleartext is dropped. */
  encrypted: boolean;
  /** The AEAD, or null for a cleartext tunnel. */
  aead: 'aes-gcm' | 'chacha20-poly1305' | null;
  /** Inbound SPIs (current first; the next or previous one too around a rekey); never keys. */
  spiIn: number[];
  /** The outbound SPI, or null (cleartext, or no outbound SA yet: packets are dropped as `tx:no-sa`). */
  spiOut: number | null;
  /** Seconds since the outbound SA was installed, or null without one. */
  saAgeSeconds: number | null;
}

/** Packets a shared outer socket could not hand to any tunnel. */
export interface OuterSocketStatus {
  id: string;
  tunnels: number;
  rx: DirectionStats;
  dropsByReason: Record<string, number>;
}

/** A tunnel's status, after adding what its fast route moved to its counters (unless the caller just did, for many at once). */
export function tunnelStatusOf(tunnel: Tunnel, absorbed = false): TunnelStatus {
  if (!absorbed) tunnel.absorbFastRoute();
  if (tunnel.sas.encrypted) tunnel.sas.absorb();
  const { spec, plan, liveness, keepalive } = tunnel;
  const counters = tunnel.counters.snapshot();
  const udp = plan.transport === 'udp';
  const binding = tunnel.placement.bindingStatus() ?? tunnel.member?.bindingStatus() ?? null;
  // A hub-role tunnel's remote is its bound address:port; the spec's is only a hint.
  const bound = binding?.role === 'hub' && binding.address !== null && binding.port !== null ? { address: binding.address, port: binding.port } : null;
  return {
    name: spec.name,
    device: tunnel.tun.name,
    // A hub-role tunnel without a verified address:port is down whatever its keepalive says.
    state: tunnel.sending ? liveness.state : 'down',
    encap: spec.encap,
    local: spec.local,
    remote: bound?.address ?? spec.remote,
    outerFamily: spec.outerFamily === 6 ? 'ipv6' : 'ipv4',
    mac: spec.mac,
    key: spec.key,
    localPort: udp ? spec.localPort : null,
    remotePort: udp ? (bound?.port ?? spec.remotePort) : null,
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
      tracked: tunnel.keepalives.running(tunnel),
      keepaliveInterval: spec.keepaliveInterval,
      keepaliveRetries: spec.keepaliveRetries,
      missed: liveness.missed,
      lastHeardAt: liveness.lastHeardAt === null ? null : new Date(liveness.lastHeardAt).toISOString(),
      rttMs: keepalive.rttMs,
    },
    binding,
    fastPath: tunnel.fastRoute === null ? null : tunnel.fastRoute.moved,
    offload: offloadStatusOf(tunnel),
    queues: tunnel.tun.queueReads === undefined || tunnel.tun.closed ? null : tunnel.tun.queueReads(),
    sources: spec.sources?.prefixes ?? null,
    spoofed: counters.dropsByReason['rx:spoofed'] ?? 0,
    ...tunnel.sas.status(),
  };
}

/** What decides whether a spec can change a running tunnel in place: its device, kind, inner addresses and outer family. */
export type TunnelShape = Pick<TunnelStatus, 'device' | 'encap' | 'mac' | 'inner' | 'peerInner'> & { outerFamily: 4 | 6 };

/**
 * A tunnel's shape alone: no counters, liveness or SAs read, so an upsert can compare its device
 * without building the whole status (a move storm asked for that several times per tunnel).
 */
export function tunnelShapeOf(tunnel: Tunnel): TunnelShape {
  const { spec } = tunnel;
  return {
    device: tunnel.tun.name,
    encap: spec.encap,
    mac: spec.mac,
    inner: spec.address === null ? null : `${spec.address}/${spec.prefixLength}`,
    peerInner: spec.peerAddress,
    outerFamily: spec.outerFamily,
  };
}

/** A shared socket's own counters: packets that reached it but no tunnel. */
export function socketStatusOf(socket: OuterSocket): OuterSocketStatus {
  const snapshot = socket.unmatched.snapshot();
  return { id: socket.id, tunnels: socket.tunnels, rx: snapshot.rx, dropsByReason: snapshot.dropsByReason };
}

function offloadStatusOf(tunnel: Tunnel): TunnelStatus['offload'] {
  const tun = tunnel.tun;
  if (tun.offload !== true || tun.offloadCounters === undefined || tun.closed) return null;
  const { superPackets, segments, mergedWrites, mergedSegments } = tun.offloadCounters();
  return { superPackets, segments, mergedWrites, mergedSegments };
}
