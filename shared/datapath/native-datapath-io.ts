import { createEspInbound, createEspSa, createFastRoute, createPacketBatch, openRawSocket, openTun, openUdpSocket, pathMtu } from '../../native/index.js';
import { availableParallelism } from 'node:os';
import { TunnelError } from '../errors.js';
import { BoundaryEndpoint, BoundaryFastRoute, BoundaryTun, fromNative } from '../native-boundary.js';
import { applyKernelChange } from '../system/apply-kernel-change.js';
import type { DatapathIo } from './datapath-io.js';

/**
 * The engine's system calls, served by the native addon (TUN, raw and UDP sockets, fast routes)
 * and the kernel configuration seam (../system/: MTU, MAC, addresses, up). TUNNEL_FAST_PATH=off
 * leaves out the fast routes, so every packet goes through JS (for comparison and for ruling the
 * fast path out when debugging). TUNNEL_OFFLOAD=off opens plain TUNs: no TCP segmentation or
 * checksum offload, one packet per read and per write. TUNs get tunQueues() queues, each forwarded
 * by a thread of its own. This is where the engine crosses into native/: every native error comes
 * back as a TunnelError (../native-boundary.ts).
 */
export const nativeDatapathIo: DatapathIo = {
  createPacketBatch: (capacity, slotSize) => fromNative(() => createPacketBatch(capacity, slotSize)),
  openTun: (name, options = {}) => new BoundaryTun(fromNative(() => openTun(name, {
    offload: process.env['TUNNEL_OFFLOAD'] !== 'off', tap: options.tap === true,
    queues: options.forwarded === true && options.tap !== true ? tunQueues() : 1,
  }))),
  openRawSocket: (protocol, localAddress, options) => new BoundaryEndpoint(fromNative(() => openRawSocket(protocol, localAddress, { ttl: options.ttl }))),
  // Receive offload: bursts a sender segmented (or a NIC's GRO coalesced) come up the stack once.
  openUdpSocket: (localAddress, port, options) => new BoundaryEndpoint(fromNative(() => openUdpSocket(localAddress, port, { ttl: options.ttl, receiveOffload: true }))),
  setLinkMtu: (link, mtu) => void applyKernelChange({ kind: 'set-mtu', link, mtu }),
  setLinkAddress: (link, mac) => void applyKernelChange({ kind: 'set-mac', link, mac }),
  setLinkUp: (link, up) => void applyKernelChange({ kind: 'set-up', link, up }),
  addAddress: (link, cidr, peer) => void applyKernelChange(peer === undefined ? { kind: 'add-address', link, cidr } : { kind: 'add-address', link, cidr, peer }),
  pathMtu: (localAddress, remoteAddress) => fromNative(() => pathMtu(localAddress, remoteAddress)),
  // The SAs themselves are the addon's (the fast routes take them as they are); making one refuses as a TunnelError.
  createEspSa: (config) => fromNative(() => createEspSa(config)),
  createEspInbound: () => fromNative(createEspInbound),
  ...(process.env['TUNNEL_FAST_PATH'] === 'off' ? {} : { createFastRoute: () => new BoundaryFastRoute(fromNative(createFastRoute)) }),
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
