/**
 * The native datapath I/O: TUN devices, raw IPv4 sockets, UDP sockets and batched packet I/O, and
 * (rtnetlink.ts) interface configuration. It validates arguments and turns errno into NativeError
 * codes before and after each call; addon-loader.ts loads build/Release/tunnel_native.node.
 */
import { NativeError } from './native-error.js';
import type { NativeAddon } from './addon-binding.js';
import { loadAddon } from './addon-loader.js';
import {
  createEspInboundWith,
  createEspReplayWindowWith,
  createEspSaWith,
  type EspInbound,
  type EspReplayWindow,
  type EspSaConfig,
  type EspSecurityAssociation,
} from './esp.js';
import { NativeFastRoute } from './fast-route.js';
import { assertInterfaceName } from './interface-name.js';
import { NativeEndpoint, type NativePacketEndpoint } from './native-endpoint.js';
import { toNativeAddress } from './socket-address.js';
import { toNativeError } from './system-error.js';

export type { DestinationBytes, FastRoute, FastRouteConfig, FastRouteCounters, PacketBatchMemory, PacketEndpoint } from './types.js';
export type { EndpointDropCounters, NativePacketEndpoint, OffloadCounters, PathMtuReport } from './native-endpoint.js';
export { isNativeError, NativeError, type NativeErrorCode, type NativeErrorDetails } from './native-error.js';
export { createPacketBatch, MAX_BATCH_CAPACITY, MAX_SLOT_SIZE, MIN_SLOT_SIZE } from './packet-batch.js';
export type { EspAead, EspInbound, EspInboundCounters, EspOutcome, EspReplayVerdict, EspReplayWindow, EspSaConfig, EspSaCounters, EspSecurityAssociation, EspSlotResults } from './esp.js';
export { createEspSlotResults, ESP_HEADROOM, ESP_KEY_BYTES, ESP_LAST_SEQUENCE, ESP_MAX_TAILROOM, ESP_OUTCOMES, ESP_REPLAY_WINDOW, espOutcomeName } from './esp.js';
export { EspError, type EspErrorCode } from './esp-error.js';
export {
  listRtnetlinkLinks, runRtnetlinkBatch, runRtnetlinkBatchSync,
  type RtnetlinkLink, type RtnetlinkOutcome, type RtnetlinkRequest,
} from './rtnetlink.js';

/**
 * A TUN device (IFF_TUN | IFF_NO_PI): packets are bare IPv4/IPv6, no packet-info header; or, opened
 * with `tap`, a TAP device (IFF_TAP): Ethernet frames.
 */
export interface TunDevice extends NativePacketEndpoint {
  readonly name: string;
  /** Offloads are on: the kernel hands over TCP super-packets and takes merged ones (see openTun). */
  readonly offload: boolean;
  /** Queues (descriptors) of the device this endpoint holds. */
  readonly queues: number;
}

/** Options for openTun. */
export interface TunOptions {
  /** IFF_MULTI_QUEUE: several opens of the same name add queues to one device. */
  multiQueue?: boolean;
  /**
   * Offloads (IFF_VNET_HDR, TUNSETOFFLOAD with checksum, TSO4 and TSO6): the kernel may hand over
   * a TCP burst of up to 64 KB in one read, which readBatch splits into segments with finished
   * checksums, and writeBatch merges consecutive TCP segments of one flow into one write. Readers
   * and writers see plain packets either way. A kernel that refuses them gives a plain TUN
   * (`offload` false). Default false; never on a TAP.
   */
  offload?: boolean;
  /** IFF_TAP: the device carries Ethernet frames (from the 14-byte header on), for gretap. Default false. */
  tap?: boolean;
  /**
   * Queues of a multi-queue device held by this one endpoint, 1-8 (default 1). With a fast route,
   * each queue is read by a forwarding thread of its own, so the kernel's flows (spread over the
   * queues by hash) are forwarded on as many cores; readBatch without a fast route reads queue 0
   * only, so ask for more than one only where a fast route will run.
   */
  queues?: number;
}

/** Most queues openTun takes. */
export const MAX_TUN_QUEUES = 8;

/** IP protocols a raw outer socket carries: GRE, IPv4 in IP, IPv6 in IP, ESP. */
export type RawProtocol = 47 | 4 | 41 | 50;

/**
 * A raw socket for one IP protocol. IPv4: reads include the outer IPv4 header, writes do not.
 * IPv6: reads and writes are the payload alone (the kernel keeps IPv6 headers to itself).
 */
export interface RawSocket extends NativePacketEndpoint {
  readonly protocol: RawProtocol;
  readonly localAddress: string;
  readonly family: 4 | 6;
}

/**
 * A UDP socket with batched I/O: addrs (IPv4) or addrs6 (IPv6) and ports are the source on read,
 * the destination on write.
 */
export interface UdpSocket extends NativePacketEndpoint {
  readonly localPort: number;
  readonly family: 4 | 6;
}

/** Options for sockets that carry tunnel packets. */
export interface OuterSocketOptions {
  /** Outer TTL, fixed for every packet (never copied from the inner packet). Default 64. */
  ttl?: number;
  /** Kernel send and receive queue size in bytes. Default 4 MiB. */
  bufferBytes?: number;
}

/** Options for openUdpSocket. */
export interface UdpSocketOptions extends OuterSocketOptions {
  /** SO_REUSEADDR before binding. Default false. */
  reuseAddress?: boolean;
  /**
   * UDP segmentation offload (UDP_SEGMENT, Linux 4.18+): a written slot longer than this many
   * bytes leaves as consecutive datagrams of this size (the last may be shorter), built by the
   * kernel from one send. Each segment plus headers must fit the route's MTU, and a slot may hold
   * no more segments than the kernel's UDP_MAX_SEGMENTS (64 on older kernels), else the kernel
   * refuses that slot (counted in writeErrors). Default 0: off.
   */
  segmentBytes?: number;
  /**
   * UDP receive offload (UDP_GRO, Linux 5.0+): the kernel may deliver a run of datagrams from one
   * sender in one receive (e.g. a segmented send, or what a NIC's GRO coalesced); readBatch
   * splits them back into one datagram per slot, so readers see no difference but the cost.
   * Default false.
   */
  receiveOffload?: boolean;
}

const DEFAULT_TTL = 64;
const DEFAULT_BUFFER_BYTES = 4 * 1024 * 1024;
const MAX_UDP_PAYLOAD = 65507;

/** Opens (creating) TUN device `name`. It is not persistent: closing it removes the interface. */
export function openTun(name: string, options: TunOptions = {}): TunDevice {
  assertInterfaceName(name);
  const queues = options.queues ?? 1;
  if (!Number.isInteger(queues) || queues < 1 || queues > MAX_TUN_QUEUES) {
    throw new NativeError('ERR_INVALID_ARGUMENT', `TUN queues must be an integer from 1 to ${MAX_TUN_QUEUES}, got ${String(queues)}`);
  }
  const { addon, views } = loadAddon();
  let opened: ReturnType<NativeAddon['openTun']>;
  try {
    opened = addon.openTun(name, options.multiQueue === true, options.offload === true, options.tap === true, queues);
  } catch (err) {
    throw toNativeError(err, `opening TUN device ${name}`, 'CAP_NET_ADMIN');
  }
  const [handle, kernelName, offload] = opened;
  return Object.assign(new NativeEndpoint(handle, views, `${options.tap === true ? 'TAP' : 'TUN'} ${kernelName}`), { name: kernelName, offload, queues });
}

/**
 * Opens a raw socket for protocol 47 (GRE), 4 (IPv4 in IP), 41 (IPv6 in IP) or 50 (ESP) bound to
 * `localAddress` (IPv4 or IPv6), which is then the outer source and the only destination it
 * receives for. Outer packets leave without DF (see native/src/open-descriptors.cc for why) and
 * with the fixed TTL (hop limit); an IPv6 socket reports ICMPv6 Packet Too Big through
 * takePathMtuReports().
 */
export function openRawSocket(protocol: RawProtocol, localAddress: string, options: OuterSocketOptions = {}): RawSocket {
  if (protocol !== 47 && protocol !== 4 && protocol !== 41 && protocol !== 50) {
    throw new NativeError('ERR_INVALID_ARGUMENT', `raw socket protocol must be 47 (GRE), 4 (IPv4 in IP), 41 (IPv6 in IP) or 50 (ESP), got ${String(protocol)}`);
  }
  const address = toNativeAddress(localAddress);
  const { ttl, bufferBytes } = outerOptions(options);
  const { addon, views } = loadAddon();
  const label = `raw socket (protocol ${protocol}) on ${localAddress}`;
  let handle: ReturnType<NativeAddon['openRawSocket']>;
  try {
    handle = addon.openRawSocket(protocol, address, ttl, bufferBytes);
  } catch (err) {
    throw toNativeError(err, `opening ${label}`, 'CAP_NET_RAW');
  }
  return Object.assign(new NativeEndpoint(handle, views, label), { protocol, localAddress, family: familyOf(address) });
}

/**
 * Opens a UDP socket bound to `localAddress`:`port` (port 0 picks a free one; see localPort). An
 * IPv6 socket takes IPv6 only (IPV6_V6ONLY), so an IPv4 socket may share the port.
 */
export function openUdpSocket(localAddress: string, port: number, options: UdpSocketOptions = {}): UdpSocket {
  const address = toNativeAddress(localAddress);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new NativeError('ERR_INVALID_ARGUMENT', `UDP port must be an integer from 0 to 65535, got ${port}`);
  }
  const { ttl, bufferBytes } = outerOptions(options);
  const segmentBytes = options.segmentBytes ?? 0;
  if (!Number.isInteger(segmentBytes) || segmentBytes < 0 || segmentBytes > MAX_UDP_PAYLOAD) {
    throw new NativeError('ERR_INVALID_ARGUMENT', `UDP segment size must be an integer from 0 (off) to ${MAX_UDP_PAYLOAD}, got ${String(segmentBytes)}`);
  }
  const { addon, views } = loadAddon();
  let handle: ReturnType<NativeAddon['openUdpSocket']>;
  let localPort: number;
  try {
    handle = addon.openUdpSocket(address, port, ttl, bufferBytes, options.reuseAddress === true, segmentBytes, options.receiveOffload === true);
  } catch (err) {
    throw toNativeError(err, `opening UDP socket on ${localAddress}:${port}`, 'CAP_NET_ADMIN');
  }
  try {
    localPort = handle.localPort();
  } catch (err) {
    handle.close();
    throw toNativeError(err, `reading the port of UDP socket on ${localAddress}`);
  }
  const label = typeof address === 'number' ? `UDP socket ${localAddress}:${localPort}` : `UDP socket [${localAddress}]:${localPort}`;
  return Object.assign(new NativeEndpoint(handle, views, label), { localPort, family: familyOf(address) });
}

function familyOf(address: number | Uint8Array): 4 | 6 {
  return typeof address === 'number' ? 4 : 6;
}

/**
 * The kernel's path MTU from `localAddress` toward `remoteAddress` (one family): its route's MTU,
 * or less when ICMP (Packet Too Big, fragmentation needed) taught it so, as any socket there would
 * send with. Sends nothing.
 */
export function pathMtu(localAddress: string, remoteAddress: string): number {
  const local = toNativeAddress(localAddress);
  const remote = toNativeAddress(remoteAddress);
  if (typeof local !== typeof remote) {
    throw new NativeError('ERR_INVALID_ADDRESS', `path MTU: ${localAddress} and ${remoteAddress} are of different families`);
  }
  try {
    return loadAddon().addon.pathMtu(local, remote);
  } catch (err) {
    throw toNativeError(err, `reading the path MTU from ${localAddress} to ${remoteAddress}`);
  }
}

/**
 * A fast route: moves one tunnel's common packets between its TUN and its outer socket inside the
 * addon, so they never wake JS (see FastRouteConfig). It does nothing until configured.
 */
export function createFastRoute(): NativeFastRoute {
  return new NativeFastRoute(loadAddon().addon.createFastRoute());
}

/**
 * An ESP security association in the addon (transport mode, RFC 4303, as Linux xfrm): seals
 * batches with its SPI and key; an EspInbound opens with it. Throws EspError (ERR_INVALID_KEY for
 * a key of the wrong length) before loading anything.
 */
export function createEspSa(config: EspSaConfig): EspSecurityAssociation {
  return createEspSaWith(loadAddon, config);
}

/** An empty table of inbound ESP SAs, by SPI. */
export function createEspInbound(): EspInbound {
  return createEspInboundWith(loadAddon);
}

/** The ESP anti-replay window on its own (the one every inbound SA runs), for tests. */
export function createEspReplayWindow(): EspReplayWindow {
  return createEspReplayWindowWith(loadAddon);
}

function outerOptions(options: OuterSocketOptions): { ttl: number; bufferBytes: number } {
  const ttl = options.ttl ?? DEFAULT_TTL;
  const bufferBytes = options.bufferBytes ?? DEFAULT_BUFFER_BYTES;
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > 255) {
    throw new NativeError('ERR_INVALID_ARGUMENT', `TTL must be an integer from 1 to 255, got ${ttl}`);
  }
  if (!Number.isInteger(bufferBytes) || bufferBytes < 0 || bufferBytes > 1 << 30) {
    throw new NativeError('ERR_INVALID_ARGUMENT', `socket buffer size must be an integer from 0 to 1 GiB, got ${bufferBytes}`);
  }
  return { ttl, bufferBytes };
}
