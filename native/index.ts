/**
 * The native datapath I/O: TUN devices, raw IPv4 sockets, UDP sockets and batched packet I/O, and
 * (rtnetlink.ts) interface configuration. It validates arguments and turns errno into NativeError
 * codes before and after each call; addon-loader.ts loads build/Release/tunnel_native.node.
 */
import { NativeError } from './native-error.js';
import type { NativeAddon, NativeEndpointHandle, NativeTunRequest } from './addon-binding.js';
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
import { FAST_ROUTE_COUNTER_VALUES, NativeFastRoute } from './fast-route.js';
import { assertInterfaceName } from './interface-name.js';
import { NativeEndpoint, type NativePacketEndpoint } from './native-endpoint.js';
import { toNativeAddress } from './socket-address.js';
import { codeOfErrno } from './rtnetlink-error.js';
import { systemErrorName, systemErrorText, toNativeError } from './system-error.js';

export type { DestinationBytes, FastRoute, FastRouteConfig, FastRouteCounters, PacketBatchMemory, PacketEndpoint } from './types.js';
export { FAST_ROUTE_COUNTER_VALUES, NativeFastRoute } from './fast-route.js';
export type { EndpointDropCounters, NativePacketEndpoint, OffloadCounters, PathMtuReport } from './native-endpoint.js';
export { isNativeError, NativeError, type NativeErrorCode, type NativeErrorDetails } from './native-error.js';
export { createPacketBatch, MAX_BATCH_CAPACITY, MAX_SLOT_SIZE, MIN_SLOT_SIZE } from './packet-batch.js';
export type { EspAead, EspInbound, EspInboundCounters, EspOutcome, EspReplayVerdict, EspReplayWindow, EspSaConfig, EspSaCounters, EspSecurityAssociation, EspSlotResults } from './esp.js';
export { createEspSlotResults, ESP_HEADROOM, ESP_KEY_BYTES, ESP_LAST_SEQUENCE, ESP_MAX_TAILROOM, ESP_OUTCOMES, ESP_REPLAY_WINDOW, espOutcomeName } from './esp.js';
export { EspError, type EspErrorCode } from './esp-error.js';
export {
  listRtnetlinkLinks, runRtnetlinkBatch,
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
  /**
   * Refuse a device of that name that exists already, whatever made it (IFF_TUN_EXCL: EBUSY,
   * ERR_ALREADY_EXISTS), instead of attaching to a persistent TUN of someone else. Default false.
   */
  exclusive?: boolean;
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
  const request = tunRequest(name, options);
  const { addon, views } = loadAddon();
  let opened: ReturnType<NativeAddon['openTun']>;
  try {
    opened = addon.openTun(name, request.multiQueue, request.offload, request.tap, request.queues, request.exclusive);
  } catch (err) {
    throw tunOpenError(err, name);
  }
  return tunDevice(opened, views, request);
}

/**
 * Opens (creating) many TUN devices in one job on the libuv thread pool, in order: registering a
 * network device waits for the kernel's rtnl lock, a millisecond or more per device on a host
 * with thousands, and the event loop runs on meanwhile. Resolves with each device, or the coded
 * NativeError it was refused with (ERR_ALREADY_EXISTS for an exclusive open of a name taken);
 * throws ERR_INVALID_ARGUMENT before anything is opened when a request is malformed.
 */
export async function openTuns(requests: readonly { name: string; options?: TunOptions }[]): Promise<(TunDevice | NativeError)[]> {
  const native = requests.map(({ name, options }) => tunRequest(name, options ?? {}));
  const { addon, views } = loadAddon();
  const results = await addon.openTuns(native);
  return results.map((result, i) => {
    const name = native[i]!.name;
    if (result[0] !== null) return tunDevice(result as [NativeEndpointHandle, string, boolean], views, native[i]!);
    const [, errno, syscall] = result;
    return tunOpenError(Object.assign(new Error(`${syscall}: ${systemErrorText(errno)}`), { errno, syscall, code: systemErrorName(errno) }), name);
  });
}

/**
 * Closes endpoints with the kernel's part off the event loop: each stops at once (no more reads,
 * writes, callbacks or forwarding; `closed` is true), and their descriptors are closed in one job
 * on the libuv pool (closing a TUN's last descriptor unregisters its device, about 20 ms each on
 * a host with thousands). Resolves once all are closed; endpoints closed already are skipped.
 */
export async function closeEndpoints(endpoints: readonly NativePacketEndpoint[]): Promise<void> {
  const handles: NativeEndpointHandle[] = [];
  for (const endpoint of endpoints) {
    if (!(endpoint instanceof NativeEndpoint)) throw new NativeError('ERR_INVALID_ARGUMENT', 'closeEndpoints: every endpoint must be one native/index.ts opened');
  }
  for (const endpoint of endpoints) {
    const handle = NativeEndpoint.takeHandle(endpoint as NativeEndpoint);
    if (handle !== null) handles.push(handle);
  }
  if (handles.length === 0) return;
  await loadAddon().addon.closeEndpoints(handles);
}

/**
 * Every route's counters in one call (one lock for all, where each counters() call takes it):
 * route i's values land in out[9i, 9i + 9) in FastRouteCounters order, the last being ms since
 * it last received or -1. A closed route is ERR_CLOSED.
 */
export function readFastRouteCounters(routes: readonly NativeFastRoute[], out: Float64Array): void {
  if (out.length < routes.length * FAST_ROUTE_COUNTER_VALUES) {
    throw new NativeError('ERR_INVALID_ARGUMENT', `readFastRouteCounters: the output needs ${routes.length * FAST_ROUTE_COUNTER_VALUES} values, has ${out.length}`);
  }
  const handles = routes.map((route) => NativeFastRoute.handleOf(route));
  loadAddon().addon.fastRouteCounters(handles, out);
}

/**
 * Packets every fast route's destination tally counted so far, in this process: a number that
 * only grows, so while it equals the last read no route has anything to drain.
 */
export function destinationTallyCount(): number {
  return loadAddon().addon.destinationTallyCount();
}

function tunRequest(name: string, options: TunOptions): NativeTunRequest {
  assertInterfaceName(name);
  const queues = options.queues ?? 1;
  if (!Number.isInteger(queues) || queues < 1 || queues > MAX_TUN_QUEUES) {
    throw new NativeError('ERR_INVALID_ARGUMENT', `TUN queues must be an integer from 1 to ${MAX_TUN_QUEUES}, got ${String(queues)}`);
  }
  return { name, multiQueue: options.multiQueue === true, offload: options.offload === true, tap: options.tap === true, queues, exclusive: options.exclusive === true };
}

function tunDevice(opened: [NativeEndpointHandle, string, boolean], views: ReturnType<typeof loadAddon>['views'], request: NativeTunRequest): TunDevice {
  const [handle, kernelName, offload] = opened;
  return Object.assign(new NativeEndpoint(handle, views, `${request.tap ? 'TAP' : 'TUN'} ${kernelName}`), { name: kernelName, offload, queues: request.queues });
}

/** A refused open as a NativeError: an exclusive open of a name that exists is ERR_ALREADY_EXISTS. */
function tunOpenError(err: unknown, name: string): NativeError {
  const fields = (typeof err === 'object' && err !== null ? err : {}) as { code?: unknown; syscall?: unknown; errno?: unknown };
  if (fields.code === 'EBUSY' && fields.syscall === 'ioctl TUNSETIFF') {
    return new NativeError('ERR_ALREADY_EXISTS', `opening TUN device ${name}: an interface named ${name} exists already`, {
      errno: typeof fields.errno === 'number' ? fields.errno : undefined, interfaceName: name, operation: 'opening the TUN device', cause: err,
    });
  }
  const error = toNativeError(err, `opening TUN device ${name}`, 'CAP_NET_ADMIN');
  return error.code === 'ERR_SYSTEM' && typeof fields.errno === 'number' && codeOfErrno(fields.errno) === 'ERR_RESOURCE_LIMIT'
    ? new NativeError('ERR_RESOURCE_LIMIT', error.message, { errno: fields.errno, interfaceName: name, cause: err })
    : error;
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
 * The kernel's path MTU from `localAddress` toward each of `remoteAddresses`: its route's MTU, or
 * less when ICMP (Packet Too Big, fragmentation needed) taught it so, as any socket there would
 * send with; null where the kernel refused one (no route, another family). One socket for the
 * whole batch, which sends nothing.
 */
export function pathMtus(localAddress: string, remoteAddresses: readonly string[]): (number | null)[] {
  const local = toNativeAddress(localAddress);
  const remotes = remoteAddresses.map((remote) => toNativeAddress(remote));
  let mtus: Int32Array;
  try {
    mtus = loadAddon().addon.pathMtus(local, remotes);
  } catch (err) {
    throw toNativeError(err, `reading path MTUs from ${localAddress}`);
  }
  return Array.from(mtus, (mtu) => (mtu > 0 ? mtu : null));
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
