import {
  addAddress, createFastRoute, createPacketBatch, openRawSocket, openTun, openUdpSocket, pathMtu, setLinkAddress, setLinkMtu, setLinkUp,
} from '../../native/index.js';
import type { DatapathIo } from './datapath-io.js';

/**
 * The engine's system calls, served by the native addon (TUN, raw and UDP sockets, fast routes)
 * and `ip`. TUNNEL_FAST_PATH=off leaves out the fast routes, so every packet goes through JS
 * (for comparison and for ruling the fast path out when debugging). TUNNEL_OFFLOAD=off opens
 * plain TUNs: no TCP segmentation or checksum offload, one packet per read and per write.
 */
export const nativeDatapathIo: DatapathIo = {
  createPacketBatch,
  openTun: (name, options = {}) => openTun(name, { offload: process.env['TUNNEL_OFFLOAD'] !== 'off', tap: options.tap === true }),
  openRawSocket: (protocol, localAddress, options) => openRawSocket(protocol, localAddress, { ttl: options.ttl }),
  // Receive offload: bursts a sender segmented (or a NIC's GRO coalesced) come up the stack once.
  openUdpSocket: (localAddress, port, options) => openUdpSocket(localAddress, port, { ttl: options.ttl, receiveOffload: true }),
  setLinkMtu,
  setLinkAddress,
  setLinkUp,
  addAddress,
  pathMtu,
  ...(process.env['TUNNEL_FAST_PATH'] === 'off' ? {} : { createFastRoute }),
};
