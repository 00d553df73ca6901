import type { OffloadCounters, PathMtuReport } from '../../native/native-endpoint.js';
import type { EspInbound, EspSaConfig, EspSecurityAssociation } from '../../native/esp.js';
import type { FastRoute, PacketBatchMemory, PacketEndpoint } from '../../native/types.js';
import type { KernelChange, KernelLink, KernelOutcome } from '../system/kernel-change.js';

/** A TUN device as the engine sees it: a packet endpoint that carries its interface name. */
export interface TunEndpoint extends PacketEndpoint {
  readonly name: string;
  /** TCP segmentation and checksum offloads are on (IFF_VNET_HDR); absent on the fakes. */
  readonly offload?: boolean;
  offloadCounters?(): OffloadCounters;
  /** Packets read from each of the device's queues (one entry per queue); absent on the fakes. */
  queueReads?(): number[];
}

/** A raw or UDP outer socket as the engine sees it. */
export interface OuterEndpoint extends PacketEndpoint {
  /** What ICMP said about the outer path's MTU since the last call (IPv6 sockets; absent on the fakes). */
  takePathMtuReports?(): PathMtuReport[];
}

/** Outer-socket options: the fixed outer TTL every packet leaves with. */
export interface OuterSocketOptions {
  ttl: number;
}

/** How the engine opens a TUN device. */
export interface TunOpenOptions {
  /** A TAP device (Ethernet frames, for gretap) instead of a TUN. */
  tap?: boolean;
  /** A fast route will read it, so it may have several queues (read by forwarding threads, never by JS). */
  forwarded?: boolean;
  /** Refuse a device of that name that exists already (ERR_ALREADY_EXISTS) instead of attaching to it. */
  exclusive?: boolean;
}

/**
 * The system calls the engine needs, injected so unit tests can run the engine on in-memory fakes
 * and production passes the native addon (native-datapath-io.ts). What takes the kernel's rtnl
 * lock (making, configuring and removing devices) is asynchronous and runs off the event loop;
 * what does not (sockets, packet I/O) is synchronous.
 */
export interface DatapathIo {
  createPacketBatch(capacity: number, slotSize: number): PacketBatchMemory;
  /** Opens (creating) a TUN device, or with `tap` a TAP device. */
  openTun(name: string, options?: TunOpenOptions): Promise<TunEndpoint>;
  /**
   * Raw socket for protocol 47 (GRE), 4 (IPv4 in IP), 41 (IPv6 in IP) or 50 (ESP) on an IPv4 or
   * IPv6 local address: IPv4 reads include the outer header, IPv6 reads and all writes do not.
   */
  openRawSocket(protocol: 47 | 4 | 41 | 50, localAddress: string, options: OuterSocketOptions): OuterEndpoint;
  /** UDP socket on an IPv4 or IPv6 local address (addrs or addrs6 carry the peers). */
  openUdpSocket(localAddress: string, port: number, options: OuterSocketOptions): OuterEndpoint;
  /**
   * Makes kernel changes (MTU, MAC, addresses, up, marks, deletions): one outcome each, as
   * KernelNetworkConfig.apply gives them; changes asked for in the same turn go in one batch.
   */
  configure(changes: readonly KernelChange[]): Promise<KernelOutcome[]>;
  /** Closes TUN devices: they stop at once, and the kernel unregisters them off the event loop. */
  closeTuns(tuns: readonly TunEndpoint[]): Promise<void>;
  /** The interfaces whose names start with `prefix`, with their link group and alias. */
  listLinks(prefix: string): Promise<KernelLink[]>;
  /** The kernel's path MTU from an outer address toward each of `remoteAddresses` (null where it has none), in one call. */
  pathMtus?(localAddress: string, remoteAddresses: readonly string[]): (number | null)[];
  /** A fast route for the endpoints this I/O opened; absent when it has none (the fakes). */
  createFastRoute?(): FastRoute;
  /**
   * ESP SAs and inbound tables in the addon (native/esp.ts), which the JS path and the fast routes
   * share; absent where the I/O has no ESP (encrypted tunnels are then refused).
   */
  createEspSa?(config: EspSaConfig): EspSecurityAssociation;
  createEspInbound?(): EspInbound;
  /** Route i's counters into out[9i, 9i + 9) in FastRouteCounters order, in one call for all (-1 for never received). */
  readFastRouteCounters?(routes: readonly FastRoute[], out: Float64Array): void;
  /**
   * Packets every fast route's destination tally counted so far (only grows); absent where routes
   * have no shared count, and then every route that received anything is drained.
   */
  destinationTallyCount?(): number;
}
