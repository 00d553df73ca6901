import type { OffloadCounters } from '../../native/native-endpoint.js';
import type { FastRoute, PacketBatchMemory, PacketEndpoint } from '../../native/types.js';

/** A TUN device as the engine sees it: a packet endpoint that carries its interface name. */
export interface TunEndpoint extends PacketEndpoint {
  readonly name: string;
  /** TCP segmentation and checksum offloads are on (IFF_VNET_HDR); absent on the fakes. */
  readonly offload?: boolean;
  offloadCounters?(): OffloadCounters;
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
  openTun(name: string): TunEndpoint;
  /** Raw IPv4 socket for protocol 47 (GRE) or 4 (IPIP): reads include the outer header, writes do not. */
  openRawSocket(protocol: 47 | 4, localAddress: string, options: OuterSocketOptions): PacketEndpoint;
  openUdpSocket(localAddress: string, port: number, options: OuterSocketOptions): PacketEndpoint;
  setLinkMtu(name: string, mtu: number): void;
  setLinkUp(name: string, up: boolean): void;
  addAddress(name: string, cidr: string, peer?: string): void;
  /** A fast route for the endpoints this I/O opened; absent when it has none (the fakes). */
  createFastRoute?(): FastRoute;
}
