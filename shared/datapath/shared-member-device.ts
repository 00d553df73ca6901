import { TunnelError } from '../errors.js';
import { formatIpPrefix, parseIpAddress, prefixMask } from '../net/ip-prefix.js';
import type { KernelChange } from '../system/kernel-change.js';
import type { PacketBatchMemory } from '../../native/types.js';
import type { DatapathIo, TunEndpoint } from './datapath-io.js';
import { DestinationLookup } from './destination-lookup.js';
import type { DeviceOwner } from './device-owner.js';
import type { EncapsulationPlan } from './encapsulation-plan.js';
import { SourceFilter } from './source-filter.js';
import { ROUNDS_PER_WAKEUP, TUN_HEADROOM, transmitBatch } from './tunnel-transmit.js';
import type { TunnelSpec } from './tunnel-spec.js';
import type { Tunnel } from './tunnel.js';

/** The engine option that puts tunnels on one shared TUN: its name, and which specs go there. */
export interface SharedDeviceOption {
  /** The shared device's interface name. */
  readonly name: string;
  /** True for a spec whose tunnel needs no interface of its own (decided by the caller, e.g. a hub's routing mode). */
  readonly takes: (spec: TunnelSpec) => boolean;
}

/**
 * What puts a tunnel's inner addresses (IPv4, as specs have them) on the shared device (`add`) or
 * takes them off (`delete`): not an address but two routes, since every address added to a device
 * walks all its routes (10,000 /30s as addresses took 4.8 s in bench:kernel-config
 * --shared-device, as routes 0.4 s). A local route for this end in table local (the host answers
 * on it) and a route to the prefix, as the address would have made it, with this end as its
 * source (what the host sends the peer comes from it). Both go with the device when it closes.
 */
export function sharedInnerChanges(link: string, spec: TunnelSpec, kind: 'add' | 'delete'): KernelChange[] {
  if (spec.address === null || spec.prefixLength === null) return [];
  const routeKind = kind === 'add' ? 'replace-route' : 'delete-route';
  const local: KernelChange = { kind: routeKind, route: { prefix: `${spec.address}/32`, link, metric: 0, local: true } };
  // The prefix belongs to the peer when there is one (`addr add LOCAL peer PEER/LEN`), else to the address.
  const { value } = parseIpAddress(spec.peerAddress ?? spec.address);
  const prefix = formatIpPrefix({ family: 4, network: value & prefixMask(4, spec.prefixLength), length: spec.prefixLength });
  if (spec.peerAddress === null && spec.prefixLength === 32) return [local];
  const towards: KernelChange = { kind: routeKind, route: { prefix, link, metric: 0, source: spec.address } };
  // The local route first on the way in (the kernel takes a source only when the host holds it), last on the way out.
  return kind === 'add' ? [local, towards] : [towards, local];
}

/**
 * `SharedMemberDevice`: one TUN for every tunnel that needs no interface of its own (the way
 * sixxsd served thousands of tunnels: one device, not thousands). It owns that device, opened on
 * first use and marked like the engine's others; each tunnel's inner address goes on it as routes
 * (sharedInnerChanges). Packets read from it go to the tunnel whose destinations hold their inner destination:
 * natively through the fast routes' shared table, and here, in JS, for what that table leaves
 * (no route, a packet too big, a TCP SYN to clamp, a tunnel without a fast path).
 */
export class SharedMemberDevice {
  readonly #lookup = new DestinationLookup<Tunnel>();
  /** The device being opened or open (null: not yet, or closed), and the device once open. */
  #tun: Promise<TunEndpoint> | null = null;
  #opened: TunEndpoint | null = null;
  #mtu = 0;
  /** Packets read whose destination no tunnel here holds (dropped). */
  #unrouted = 0;
  readonly #batch: PacketBatchMemory;

  constructor(private readonly io: DatapathIo, private readonly owner: DeviceOwner | undefined, readonly option: SharedDeviceOption,
    capacity: number, slotSize: number) {
    this.#batch = io.createPacketBatch(capacity, slotSize);
  }

  get name(): string {
    return this.option.name;
  }

  /** Packets read from the device that no tunnel's destinations held, dropped since start. */
  get unrouted(): number {
    return this.#unrouted;
  }

  /** True once the device was opened (and until it closes). */
  get opened(): boolean {
    return this.#tun !== null;
  }

  /**
   * The device for a new tunnel: opened on first use, its MTU raised to the tunnel's when larger
   * (each tunnel's own MTU is enforced per packet), the tunnel's inner addresses put on it (sharedInnerChanges).
   */
  async attach(spec: TunnelSpec, plan: EncapsulationPlan): Promise<TunEndpoint> {
    const tun = await this.#open();
    const link = this.name;
    const changes: KernelChange[] = [];
    if (plan.mtu > this.#mtu) {
      this.#mtu = plan.mtu;
      changes.push({ kind: 'set-mtu', link, mtu: plan.mtu });
    }
    changes.push(...sharedInnerChanges(link, spec, 'add'));
    await this.#configure(changes);
    return tun;
  }

  /** A larger MTU for one of its tunnels raises the device's; a smaller one leaves it. */
  async fitMtu(mtu: number): Promise<void> {
    if (mtu <= this.#mtu) return;
    this.#mtu = mtu;
    await this.#configure([{ kind: 'set-mtu', link: this.name, mtu }]);
  }

  /** The tunnel's destinations on the device: its peer's address and `routed` (canonical CIDRs); ERR_INVALID_CIDR leaves them as they were. */
  destinationsOf(spec: TunnelSpec, routed: readonly string[]): SourceFilter {
    const peer = spec.peerAddress === null ? [] : [`${spec.peerAddress}/${spec.peerAddress.includes(':') ? 128 : 32}`];
    return new SourceFilter([...new Set([...peer, ...routed])]);
  }

  /** The tunnel now runs on the device: JS finds it by its destinations too. */
  seat(tunnel: Tunnel): void {
    const destinations = tunnel.sharedDestinations;
    if (destinations !== null) this.#lookup.set(tunnel, destinations.prefixes);
  }

  /** The tunnel is stopping: nothing is routed to it in JS any more (its fast route leaves the native table as it closes). */
  unseat(tunnel: Tunnel): void {
    this.#lookup.remove(tunnel);
  }

  /**
   * The tunnel stopped: unseated, and its inner addresses taken off the device (which stays for
   * the others), the other tunnels' left as they are. A refusal (a route gone already) leaves
   * nothing to undo: the tunnel is gone either way.
   */
  async detach(tunnel: Tunnel): Promise<void> {
    this.unseat(tunnel);
    if (this.#opened === null) return;
    const changes = sharedInnerChanges(this.name, tunnel.spec, 'delete');
    if (changes.length > 0) await this.io.configure(changes);
  }

  /** JS's share of the device's packets: each to the tunnel its destination picks, one at a time (the fast routes take the bulk). */
  transmit(): void {
    const tun = this.#opened;
    if (tun === null) return;
    const batch = this.#batch;
    for (let round = 0; round < ROUNDS_PER_WAKEUP; round++) {
      let count: number;
      try {
        count = tun.readBatch(batch, TUN_HEADROOM);
      } catch {
        return;
      }
      for (let i = 0; i < count; i++) {
        const start = i * batch.slotSize + batch.offsets[i]!;
        const length = batch.lengths[i]!;
        const tunnel = this.#lookup.lookup(batch.data, start, length);
        if (tunnel === null || tunnel.closed) {
          this.#unrouted++;
          continue;
        }
        const into = tunnel.batches.fromTun;
        if (length + TUN_HEADROOM > into.slotSize) {
          tunnel.counters.txDrop('too-big');
          continue;
        }
        into.data.set(batch.data.subarray(start, start + length), TUN_HEADROOM);
        into.offsets[0] = TUN_HEADROOM;
        into.lengths[0] = length;
        transmitBatch(tunnel, 1);
      }
      if (count < batch.capacity) return;
    }
  }

  /** Closes the device (it disappears with its addresses and routes, local ones too). */
  async close(): Promise<void> {
    const opening = this.#tun;
    this.#opened?.onReadable(null);
    this.#tun = null;
    this.#opened = null;
    if (opening === null) return;
    const tun = await opening.catch(() => null);
    if (tun !== null) await this.io.closeTuns([tun]);
  }

  /** Closes the device at once (the last-ditch cleanup). */
  closeNow(): void {
    this.#opened?.close();
    this.#opened = null;
    this.#tun = null;
  }

  #open(): Promise<TunEndpoint> {
    this.#tun ??= this.#make().catch((err: unknown) => {
      this.#tun = null;
      throw err;
    });
    return this.#tun;
  }

  async #make(): Promise<TunEndpoint> {
    const link = this.name;
    const tun = await this.io.openTun(link, { forwarded: this.io.createFastRoute !== undefined, exclusive: this.owner !== undefined });
    const changes: KernelChange[] = [];
    if (this.owner !== undefined) changes.push({ kind: 'mark-link', link, group: this.owner.group, alias: this.owner.alias });
    changes.push({ kind: 'set-up', link, up: true });
    try {
      await this.#configure(changes);
    } catch (err) {
      await this.io.closeTuns([tun]);
      throw err;
    }
    this.#opened = tun;
    tun.onReadable(() => this.transmit());
    return tun;
  }

  async #configure(changes: KernelChange[]): Promise<void> {
    if (changes.length === 0) return;
    const outcomes = await this.io.configure(changes);
    const refused = outcomes.find((outcome) => !outcome.ok);
    if (refused !== undefined && !refused.ok) throw refused.error;
    if (outcomes.length !== changes.length) throw new TunnelError('ERR_INTERNAL', `configuring ${this.name}: ${outcomes.length} outcomes for ${changes.length} changes`);
  }
}
