import type { OffloadCounters, PathMtuReport } from '../../native/native-endpoint.js';
import type { EspInbound, EspSaConfig, EspSecurityAssociation } from '../../native/esp.js';
import type { FastRoute, PacketBatchMemory, PacketEndpoint } from '../../native/types.js';

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

/**
 * The system calls the engine needs, injected so unit tests can run the engine on in-memory fakes
 * and production passes the native addon (native-datapath-io.ts).
 */
export interface DatapathIo {
  createPacketBatch(capacity: number, slotSize: number): PacketBatchMemory;
  /**
   * A TUN device, or with `tap` a TAP device (Ethernet frames, for gretap). `forwarded`: a fast
   * route will read it, so it may have several queues (read by forwarding threads, never by JS).
   */
  openTun(name: string, options?: { tap?: boolean; forwarded?: boolean }): TunEndpoint;
  /**
   * Raw socket for protocol 47 (GRE), 4 (IPv4 in IP), 41 (IPv6 in IP) or 50 (ESP) on an IPv4 or
   * IPv6 local address: IPv4 reads include the outer header, IPv6 reads and all writes do not.
   */
  openRawSocket(protocol: 47 | 4 | 41 | 50, localAddress: string, options: OuterSocketOptions): OuterEndpoint;
  /** UDP socket on an IPv4 or IPv6 local address (addrs or addrs6 carry the peers). */
  openUdpSocket(localAddress: string, port: number, options: OuterSocketOptions): OuterEndpoint;
  setLinkMtu(name: string, mtu: number): void;
  /** Sets a TAP's MAC address. */
  setLinkAddress(name: string, mac: string): void;
  setLinkUp(name: string, up: boolean): void;
  addAddress(name: string, cidr: string, peer?: string): void;
  /** The kernel's path MTU between two outer addresses; absent on the fakes. */
  pathMtu?(localAddress: string, remoteAddress: string): number;
  /** A fast route for the endpoints this I/O opened; absent when it has none (the fakes). */
  createFastRoute?(): FastRoute;
  /**
   * ESP SAs and inbound tables in the addon (native/esp.ts), which the JS path and the fast routes
   * share; absent where the I/O has no ESP (encrypted tunnels are then refused).
   */
  createEspSa?(config: EspSaConfig): EspSecurityAssociation;
  createEspInbound?(): EspInbound;
}
