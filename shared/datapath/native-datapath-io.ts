import {
  closeEndpoints, createEspInbound, createEspSa, createFastRoute, createPacketBatch, destinationTallyCount, NativeFastRoute, openRawSocket, openTuns, openUdpSocket, pathMtus,
  readFastRouteCounters, type NativePacketEndpoint, type TunDevice, type TunOptions,
} from '../../native/index.js';
import { isNativeError } from '../../native/native-error.js';
import { availableParallelism } from 'node:os';
import { TunnelError } from '../errors.js';
import { BoundaryEndpoint, BoundaryFastRoute, BoundaryTun, fromNative, tunnelErrorFromNative } from '../native-boundary.js';
import { systemKernelNetworkConfig } from '../system/system-kernel-network-config.js';
import { TurnBatcher } from '../system/turn-batcher.js';
import type { DatapathIo } from './datapath-io.js';

/**
 * TUN devices asked for in one turn (a hub's members joining together) open in one job on the
 * libuv pool: the event loop never waits for the kernel's rtnl lock.
 */
const tunOpens = new TurnBatcher<{ name: string; options: TunOptions }, TunDevice | Error>((requests) => openTuns(requests));

/**
 * The engine's system calls, served by the native addon (TUN, raw and UDP sockets, fast routes)
 * and the kernel configuration seam (../system/: MTU, MAC, addresses, up, marks, deletions).
 * TUNNEL_FAST_PATH=off leaves out the fast routes, so every packet goes through JS (for comparison
 * and for ruling the fast path out when debugging). TUNNEL_OFFLOAD=off opens plain TUNs: no TCP
 * segmentation or checksum offload, one packet per read and per write. TUNs get tunQueues()
 * queues, each forwarded by a thread of its own. This is where the engine crosses into native/:
 * every native error comes back as a TunnelError (../native-boundary.ts).
 */
export const nativeDatapathIo: DatapathIo = {
  createPacketBatch: (capacity, slotSize) => fromNative(() => createPacketBatch(capacity, slotSize)),
  openTun: async (name, options = {}) => {
    const [opened] = await tunOpens.submit([{
      name,
      options: {
        offload: process.env['TUNNEL_OFFLOAD'] !== 'off', tap: options.tap === true, exclusive: options.exclusive === true,
        queues: options.forwarded === true && options.tap !== true ? tunQueues() : 1,
      },
    }]).catch((err: unknown) => [tunnelErrorFromNative(err) as Error]);
    if (opened === undefined) throw new TunnelError('ERR_INTERNAL', `opening ${name}: no outcome`);
    if (opened instanceof Error) throw isNativeError(opened) ? tunnelErrorFromNative(opened) : opened;
    return new BoundaryTun(opened);
  },
  openRawSocket: (protocol, localAddress, options) => new BoundaryEndpoint(fromNative(() => openRawSocket(protocol, localAddress, { ttl: options.ttl }))),
  // Receive offload: bursts a sender segmented (or a NIC's GRO coalesced) come up the stack once.
  openUdpSocket: (localAddress, port, options) => new BoundaryEndpoint(fromNative(() => openUdpSocket(localAddress, port, { ttl: options.ttl, receiveOffload: true }))),
  configure: (changes) => systemKernelNetworkConfig.apply(changes),
  closeTuns: async (tuns) => {
    const endpoints = tuns.map((tun) => (tun instanceof BoundaryEndpoint ? tun.inner : tun)) as NativePacketEndpoint[];
    try {
      await closeEndpoints(endpoints);
    } catch (err) {
      throw tunnelErrorFromNative(err);
    }
  },
  listLinks: (prefix) => systemKernelNetworkConfig.listLinks(prefix),
  pathMtus: (localAddress, remoteAddresses) => fromNative(() => pathMtus(localAddress, remoteAddresses)),
  // The SAs themselves are the addon's (the fast routes take them as they are); making one refuses as a TunnelError.
  createEspSa: (config) => fromNative(() => createEspSa(config)),
  createEspInbound: () => fromNative(createEspInbound),
  ...(process.env['TUNNEL_FAST_PATH'] === 'off' ? {} : {
    createFastRoute: () => new BoundaryFastRoute(fromNative(createFastRoute)),
    destinationTallyCount: () => fromNative(destinationTallyCount),
    readFastRouteCounters: (routes, out) => fromNative(() => readFastRouteCounters(routes.map((route) => {
      const inner = route instanceof BoundaryFastRoute ? route.inner : route;
      if (!(inner instanceof NativeFastRoute)) throw new TunnelError('ERR_INVALID_ARGUMENT', 'readFastRouteCounters: a route not made by this I/O');
      return inner;
    }), out)),
  }),
};

/**
 * Queues per TUN: TUNNEL_QUEUES (1-8) when set, else one per core beyond the first, at most four.
 * A machine of two cores keeps one queue and one forwarding thread: the other core is the
 * kernel's and everything else's (on a veth, a send also runs the receiving side's work).
 * Commands call it once before they open anything, so a bad value stops them at once.
 */
export function tunQueues(env: NodeJS.ProcessEnv = process.env): number {
  const asked = env['TUNNEL_QUEUES'];
  if (asked === undefined || asked === '') return Math.max(1, Math.min(4, availableParallelism() - 1));
  if (!/^[1-8]$/.test(asked)) throw new TunnelError('ERR_INVALID_CONFIG', `TUNNEL_QUEUES "${asked.slice(0, 16)}" must be a number of TUN queues from 1 to 8`);
  return Number(asked);
}
