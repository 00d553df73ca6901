import { TunnelError } from '../errors.js';
import type { DatapathIo } from './datapath-io.js';
import type { EncapsulationPlan, OuterTransport } from './encapsulation-plan.js';
import { OuterSocket } from './outer-socket.js';
import { claimProblem } from './tunnel-path.js';
import type { PreparedSas, TunnelSecurityAssociations } from './tunnel-security-associations.js';
import type { TunnelSpec } from './tunnel-spec.js';
import { socketStatusOf, type OuterSocketStatus } from './tunnel-status.js';
import type { Tunnel, TunnelSocket } from './tunnel.js';

/** Packets per batch: one JS↔native crossing moves up to this many. */
export const BATCH_CAPACITY = 64;

/** Bytes per batch slot: an Ethernet-sized packet plus headroom, with room to spare. */
export const SLOT_SIZE = 2048;

const CONTROL_CAPACITY = 1;
/** Keepalives are short (at most a few dozen bytes): a tick's worth of them fits small slots. */
const KEEPALIVE_SLOT_SIZE = 256;

/** The IP protocol of each raw outer transport. */
const RAW_PROTOCOL = { gre: 47, ipip: 4, ipv6: 41, esp: 50 } as const;

/** The sockets one tunnel path sends through. */
export interface PathSockets {
  socket: OuterSocket;
  socket6: OuterSocket;
  trap: OuterSocket | null;
}

/**
 * `OuterSocketPool`: the engine's shared outer sockets, one raw socket per (protocol, local
 * address) and one UDP socket per (local address, port), opened on first use and closed when no
 * tunnel uses or reserves them.
 */
export class OuterSocketPool {
  readonly #sockets = new Map<string, OuterSocket>();

  /** `onReadable` runs when a socket of the pool has packets to read. */
  constructor(private readonly io: DatapathIo, private readonly onReadable: (socket: OuterSocket) => void) {}

  /** acquire, letting go of the prepared SAs when it fails. */
  acquireOrDiscard(spec: TunnelSpec, plan: EncapsulationPlan, sas: TunnelSecurityAssociations, prepared: PreparedSas): PathSockets {
    try {
      return this.acquire(spec, plan);
    } catch (err) {
      sas.discard(prepared);
      throw err;
    }
  }

  /**
   * The sockets a plan sends through: one, or two for ipip over IPv6 (protocols 4 and 41); and for
   * raw ESP the raw socket of the protocol it protects, where cleartext for it would arrive.
   */
  acquire(spec: TunnelSpec, plan: EncapsulationPlan): PathSockets {
    const socket = this.#acquireOne(spec, plan.transport);
    const opened: OuterSocket[] = [socket];
    try {
      const socket6 = plan.transport6 === plan.transport ? socket : this.#acquireOne(spec, plan.transport6);
      opened.push(socket6);
      const cleartext = plan.esp?.cleartext ?? null;
      const trap = cleartext === null ? null : this.#acquireOne(spec, cleartext);
      return { socket, socket6, trap };
    } catch (err) {
      this.release(opened);
      throw err;
    }
  }

  /** Throws ERR_TUNNEL_EXISTS when another tunnel than `except` holds the place `spec` takes. */
  claim(path: PathSockets, spec: TunnelSpec, except?: Tunnel): void {
    const claimed = claimProblem(path.socket, path.socket6, path.trap, spec, except);
    if (claimed !== null) throw new TunnelError('ERR_TUNNEL_EXISTS', claimed);
  }

  /** Holds a path's sockets open while its tunnel is being set up (each distinct socket once). */
  reserve(path: { socket: TunnelSocket; socket6: TunnelSocket; trap: TunnelSocket | null }): void {
    for (const socket of new Set([path.socket, path.socket6, path.trap])) (socket as OuterSocket | null)?.reserve();
  }

  /** Lets go of what reserve held. */
  unreserve(path: { socket: TunnelSocket; socket6: TunnelSocket; trap: TunnelSocket | null }): void {
    for (const socket of new Set([path.socket, path.socket6, path.trap])) (socket as OuterSocket | null)?.unreserve();
  }

  /** Closes each of these sockets no tunnel uses any more. */
  release(sockets: readonly (TunnelSocket | null)[]): void {
    for (const socket of new Set(sockets)) {
      if (socket === null || socket.users > 0 || this.#sockets.get(socket.id) !== socket) continue;
      this.#sockets.delete(socket.id);
      socket.endpoint.close();
    }
  }

  /** Closes every socket of the pool no tunnel uses any more. */
  releaseAll(): void {
    this.release([...this.#sockets.values()]);
  }

  /** Counters of packets that reached a socket of the pool but no tunnel. */
  status(): OuterSocketStatus[] {
    return [...this.#sockets.values()].map(socketStatusOf);
  }

  #acquireOne(spec: TunnelSpec, transport: OuterTransport): OuterSocket {
    const local = spec.outerFamily === 6 ? `[${spec.local}]` : spec.local;
    const id = transport === 'udp' ? `udp ${local}:${spec.localPort}` : `${transport} ${spec.local}`;
    const existing = this.#sockets.get(id);
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
      this.io.createPacketBatch(BATCH_CAPACITY, SLOT_SIZE), this.io.createPacketBatch(CONTROL_CAPACITY, SLOT_SIZE),
      this.io.createPacketBatch(BATCH_CAPACITY, KEEPALIVE_SLOT_SIZE));
    endpoint.onReadable(() => this.onReadable(socket));
    this.#sockets.set(id, socket);
    return socket;
  }
}
