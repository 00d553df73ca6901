import type { PacketBatchMemory } from '../../native/types.js';
import type { OuterEndpoint } from './datapath-io.js';
import { TunnelCounters, type DropReason } from './tunnel-counters.js';
import type { OuterTransport } from './encapsulation-plan.js';
import { findIpv6Key, UNKNOWN_OUTER_KEY, type OuterKey } from './outer-address.js';
import type { Tunnel, TunnelSocket } from './tunnel.js';

/** The sub-key of a GRE tunnel without a key: keys are unsigned 32-bit, so −1 never collides. */
export const NO_GRE_KEY = -1;

/**
 * One outer socket shared by every tunnel with the same transport and local address (and UDP
 * port): a raw socket per (protocol, local address), a UDP socket per (local address, port).
 * It owns the demultiplexing table (remote address → sub-key → tunnel), where the sub-key is
 * the GRE key (gre, fou), the remote UDP port (udp) or 0 (ipip), and the UDP binding table
 * (binding id → hub-role tunnel), through which a verified hello puts a tunnel in the demux table.
 * Remote addresses are outer keys (outer-address.ts), so IPv6 sockets use the same tables. Only a
 * tunnel's placement (static-placement.ts, udp-binding-hub.ts) writes its entries.
 */
export class OuterSocket implements TunnelSocket {
  /** Packets that reached no tunnel, and malformed ones from addresses no tunnel talks to. */
  readonly unmatched = new TunnelCounters();
  /** Hub-role tunnels by binding id: hellos from any address:port are looked up here. */
  private readonly bindings = new Map<number, Tunnel>();
  private readonly byRemote = new Map<number, Map<number, Tunnel>>();
  private readonly attached = new Set<Tunnel>();
  /** Tunnels being set up on this socket while their device is made: they count as users. */
  private reserved = 0;

  constructor(
    /** Stable identity, e.g. `gre 192.0.2.1` or `udp 192.0.2.1:4754`. */
    readonly id: string,
    readonly transport: OuterTransport,
    /** The IP version of its local address, hence of every remote it talks to. */
    readonly family: 4 | 6,
    readonly localAddress: string,
    readonly localPort: number,
    readonly ttl: number,
    readonly endpoint: OuterEndpoint,
    /** Batch the receive loop reads into. */
    readonly rxBatch: PacketBatchMemory,
    /** Small batch for keepalives, echoes and reflections sent outside the bulk path. */
    readonly controlBatch: PacketBatchMemory,
    /** The keepalives due in one tick, sent in one call. */
    readonly keepaliveBatch: PacketBatchMemory,
  ) {}

  /**
   * The outer key of slot i's peer in a batch this socket read: addrs[i] on IPv4; on IPv6 the key
   * of its 16 bytes if any tunnel or binding ever named that address, else UNKNOWN_OUTER_KEY.
   */
  sourceOf(batch: PacketBatchMemory, i: number): OuterKey {
    if (this.family === 4) return batch.addrs[i]!;
    return findIpv6Key(batch.addrs6, i * 16) ?? UNKNOWN_OUTER_KEY;
  }

  /** The tunnel for (remote address, sub-key), if any. */
  lookup(remote: number, subKey: number): Tunnel | undefined {
    return this.byRemote.get(remote)?.get(subKey);
  }

  /** Some tunnel talking to `remote`, to charge malformed packets from that address to. */
  anyFrom(remote: number): Tunnel | undefined {
    const inner = this.byRemote.get(remote);
    if (inner === undefined) return undefined;
    for (const tunnel of inner.values()) return tunnel;
    return undefined;
  }

  /** Counts `tunnel` as a user of this socket (registered in the demux table or not). */
  attach(tunnel: Tunnel): void {
    this.attached.add(tunnel);
  }

  /** The reverse of attach; the engine closes the socket when no tunnel is left. */
  detach(tunnel: Tunnel): void {
    this.attached.delete(tunnel);
  }

  /** Makes `tunnel` receive what comes from (remote, subKey). */
  register(tunnel: Tunnel, remote: number, subKey: number): void {
    let inner = this.byRemote.get(remote);
    if (inner === undefined) {
      inner = new Map();
      this.byRemote.set(remote, inner);
    }
    inner.set(subKey, tunnel);
  }

  /** Removes (remote, subKey) from the demux table if `tunnel` holds it. */
  unregister(tunnel: Tunnel, remote: number, subKey: number): void {
    const inner = this.byRemote.get(remote);
    if (inner?.get(subKey) !== tunnel) return;
    inner.delete(subKey);
    if (inner.size === 0) this.byRemote.delete(remote);
  }

  /** True when some hub-role tunnel waits for hellos here. */
  get hasBindings(): boolean {
    return this.bindings.size > 0;
  }

  /** The hub-role tunnel holding binding id `bindingId`, if any. */
  bindingHolder(bindingId: number): Tunnel | undefined {
    return this.bindings.get(bindingId);
  }

  /** Makes hellos naming `bindingId` reach `tunnel`. */
  claimBinding(bindingId: number, tunnel: Tunnel): void {
    this.bindings.set(bindingId, tunnel);
  }

  /** Removes `bindingId` from the binding table if `tunnel` holds it. */
  releaseBinding(bindingId: number, tunnel: Tunnel): void {
    if (this.bindings.get(bindingId) === tunnel) this.bindings.delete(bindingId);
  }

  /** Holds the socket open for a tunnel being set up (its device is made meanwhile); unreserve lets go. */
  reserve(): void {
    this.reserved++;
  }

  /** The reverse of reserve. */
  unreserve(): void {
    this.reserved--;
  }

  /** How many tunnels use this socket or are being set up on it; the engine closes it when none is left. */
  get users(): number {
    return this.attached.size + this.reserved;
  }

  /** How many tunnels use this socket now (status). */
  get tunnels(): number {
    return this.attached.size;
  }

  /** Charges a packet from `remote` that was malformed or unmatched: to a tunnel of that address if any. */
  dropFrom(remote: number, reason: DropReason): void {
    const tunnel = this.anyFrom(remote);
    if (tunnel !== undefined) tunnel.counters.rxDrop(reason);
    else this.unmatched.rxDrop(reason);
  }
}
