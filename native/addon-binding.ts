/**
 * The raw surface of build/Release/tunnel_native.node, as native/src/addon.cc defines it. Only
 * native/ code sees these types; everything else uses the typed API of native/index.ts.
 */
import type { NativeAddress } from './socket-address.js';
import type { DestinationBytes, FastRouteConfig } from './types.js';

/** Opaque native view of one PacketBatchMemory (pointers taken once; see native/src/batch-view.h). */
export interface NativeBatchView {
  readonly __brand: 'NativeBatchView';
}

/** One open TUN device or socket inside the addon. */
export interface NativeEndpointHandle {
  read(view: NativeBatchView, headroom: number): number;
  write(view: NativeBatchView, count: number): number;
  onReadable(callback: (() => void) | null): void;
  onWritable(callback: (() => void) | null): void;
  setReferenced(referenced: boolean): void;
  close(): void;
  localPort(): number;
  /** Path MTUs the socket's error queue reported since the last call: [address, mtu] pairs, or undefined for none. */
  takePathMtuReports(): [NativeAddress, number][] | undefined;
  /**
   * [truncated reads dropped, writes dropped for an error, errno of the last such write, packets
   * read while forwarding that JS never read, TCP super-packets read, segments made of them,
   * partial checksums finished, offload reads dropped, merged writes, segments merged, then (a TUN)
   * packets read from each of its queues]
   */
  counters(): number[];
}

/** One tunnel's fast route inside the addon (native/src/fast-route.h). */
export interface NativeFastRouteHandle {
  /** FastRouteConfig with the endpoints' addon handles in place of the endpoints. */
  configure(options: Omit<FastRouteConfig, 'tun' | 'outer'> & { tun: NativeEndpointHandle; outer: NativeEndpointHandle | null }): void;
  /** [rx packets, rx bytes, tx packets, tx bytes, rx queue-full, tx queue-full, rx errors, tx errors, ms since last rx or -1] */
  counters(): [number, number, number, number, number, number, number, number, number];
  /** [{address, bytes}] counted since the last drain. */
  drainDestinations(): DestinationBytes[];
  close(): void;
}

/** One ESP security association inside the addon (native/src/esp-binding.h); it never hands its key back. */
export interface NativeEspSaHandle {
  seal(view: NativeBatchView, count: number, nextHeaders: Uint8Array, outcomes: Uint8Array): number;
  /**
   * [sealed, sealed bytes, no room, exhausted, cipher errors, opened, opened bytes, auth failed,
   * replayed, malformed, last sequence sent, highest sequence received, rekey due (0/1)]
   */
  counters(): [number, number, number, number, number, number, number, number, number, number, number, number, number];
  close(): void;
}

/** An inbound SA table inside the addon. */
export interface NativeEspInboundHandle {
  add(sa: NativeEspSaHandle): void;
  remove(spi: number): boolean;
  open(view: NativeBatchView, count: number, nextHeaders: Uint8Array, outcomes: Uint8Array): number;
  /** [unknown SPI, truncated, SAs held] */
  counters(): [number, number, number];
  close(): void;
}

/** The ESP anti-replay window alone (native/src/esp-replay-window.h). */
export interface NativeEspReplayWindowHandle {
  /** 0 fresh, 1 duplicate, 2 stale */
  check(sequence: number): number;
  accept(sequence: number): void;
  highest(): number;
}

/** One request of an rtnetlink batch as the addon reads it (native/src/rtnetlink-binding.h). */
export interface NativeRtnetlinkRequest {
  op: 'set-mtu' | 'set-mac' | 'set-up' | 'add-address' | 'delete-address' | 'replace-route' | 'delete-route' | 'delete-link' | 'set-ipv4-forwarding' | 'set-ipv6-forwarding'
    | 'mark-link' | 'delete-link-group';
  /** Empty only for an unreachable route and a group deletion. */
  link: string;
  /** MTU, route metric, link group, or 0/1 for up and forwarding. */
  value?: number;
  /** A mark-link's alias. */
  alias?: string;
  family?: 4 | 6;
  prefixLength?: number;
  /** Address, route destination (4 or 16 bytes) or MAC (6 bytes). */
  address?: Uint8Array;
  peer?: Uint8Array;
  unreachable?: boolean;
  /** A route of type local in table local. */
  local?: boolean;
  /** A route's preferred source (RTA_PREFSRC), 4 or 16 bytes as the destination. */
  source?: Uint8Array;
  exclusive?: boolean;
  nodad?: boolean;
}

/** One device openTuns opens (native/src/tun-open-batch.h). */
export interface NativeTunRequest {
  name: string;
  multiQueue: boolean;
  offload: boolean;
  tap: boolean;
  queues: number;
  exclusive: boolean;
}

/** The addon's exports. */
export interface NativeAddon {
  bindBatch(
    data: Uint8Array,
    offsets: Uint32Array,
    lengths: Uint32Array,
    addrs: Uint32Array,
    ports: Uint16Array,
    capacity: number,
    slotSize: number,
    addrs6: Uint8Array,
  ): NativeBatchView;
  createFastRoute(): NativeFastRouteHandle;
  /** A new SA; throws a TypeError for malformed arguments, an Error when the key or SPI is refused. */
  EspSa: new (
    spi: number,
    aead: number,
    key: Uint8Array,
    firstSequence: number,
    rekeySequence: number,
    ivMask: Uint8Array | null,
  ) => NativeEspSaHandle;
  EspInbound: new () => NativeEspInboundHandle;
  EspReplayWindow: new () => NativeEspReplayWindowHandle;
  /** EspReplayWindow::kSize */
  espReplayWindowSize: number;
  /** [endpoint, the kernel's interface name, whether offloads are on] */
  openTun(name: string, multiQueue: boolean, offload: boolean, tap: boolean, queues: number, exclusive: boolean): [NativeEndpointHandle, string, boolean];
  /** Opens every device on the libuv pool, in order: each [endpoint, name, offload], or [null, errno, the failed call]. */
  openTuns(requests: NativeTunRequest[]): Promise<([NativeEndpointHandle, string, boolean] | [null, number, string])[]>;
  /** Stops the endpoints at once and closes their descriptors on the libuv pool. */
  closeEndpoints(endpoints: NativeEndpointHandle[]): Promise<void>;
  /** Route i's counters() values into out[9i, 9i + 9), all under one lock. */
  fastRouteCounters(routes: NativeFastRouteHandle[], out: Float64Array): void;
  /** Packets every route's destination tally counted so far. */
  destinationTallyCount(): number;
  /** The kernel's path MTU from a local address toward each remote (of its family) through one socket; -errno where the kernel refused one. */
  pathMtus(localAddress: NativeAddress, remoteAddresses: NativeAddress[]): Int32Array;
  openRawSocket(protocol: number, localAddress: NativeAddress, ttl: number, bufferBytes: number): NativeEndpointHandle;
  openUdpSocket(
    localAddress: NativeAddress,
    port: number,
    ttl: number,
    bufferBytes: number,
    reuseAddress: boolean,
    segmentBytes: number,
    receiveOffload: boolean,
  ): NativeEndpointHandle;
  /** Runs the requests on the libuv pool: [errno (0: done), its text, the kernel's extended ack message] each. */
  rtnetlinkBatch(requests: NativeRtnetlinkRequest[]): Promise<[number, string, string][]>;
  /** [name, index, group, alias ('' for none)] of every link whose name starts with `prefix`. */
  rtnetlinkListLinks(prefix: string): Promise<[string, number, number, string][]>;
}
