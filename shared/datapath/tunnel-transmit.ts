import { createEspSlotResults } from '../../native/esp.js';
import { read32 } from '../wire/big-endian.js';
import { buildIcmpFragmentationNeeded } from '../wire/icmp-frag-needed.js';
import { buildIcmpv6PacketTooBig } from '../wire/icmpv6-packet-too-big.js';
import { IPPROTO_TCP } from '../wire/ip-protocols.js';
import { clampTcpMss } from '../wire/tcp-mss.js';
import { setDestination } from './tunnel-keepalive.js';
import type { Tunnel } from './tunnel.js';

/** Bytes reserved in front of every packet read from a TUN, for the headers prepended in place. */
export const TUN_HEADROOM = 64;

/** Batches handled per readiness callback before yielding to other descriptors (uv_poll is level-triggered). */
export const ROUNDS_PER_WAKEUP = 8;

// Offsets inside an inner IPv4 header.
const IPV4_FLAGS = 6;
const IPV4_PROTOCOL = 9;
const IPV4_DST = 16;
const DF_BIT = 0x40;
const IPV6_DST = 24;
const TCP_IP_OVERHEAD = 40;
const ETHERNET_HEADER_LENGTH = 14;

// Scratch of the sealing step, shared by every tunnel (callbacks never nest): each slot's ESP
// next header and outcome, and its inner length for the byte counters.
const sealResults = createEspSlotResults(64);
const innerLengths = new Uint32Array(64);

/**
 * The TUN → outer path (a gretap tunnel's TAP likewise, with Ethernet frames): reads batches from
 * the tunnel's TUN with headroom, prepends the encapsulation header in place, points each slot at the remote, and hands the whole batch to the
 * shared outer socket in one call. Packets too big for the tunnel with DF set (any IPv6 packet)
 * are answered with ICMP written back into the TUN; without DF they are sent and the kernel
 * fragments the outer packet. Nothing here allocates.
 */
export function transmitFromTun(tunnel: Tunnel): void {
  const batch = tunnel.batches.fromTun;
  for (let round = 0; round < ROUNDS_PER_WAKEUP && !tunnel.closed; round++) {
    let count: number;
    try {
      count = tunnel.tun.readBatch(batch, TUN_HEADROOM);
    } catch {
      tunnel.counters.txDrop('io-error');
      return;
    }
    if (count === 0) return;
    transmitBatch(tunnel, count);
    if (count < batch.capacity) return;
  }
}

/**
 * Sends the packets in slots [0, count) of the tunnel's `fromTun` batch (read with TUN_HEADROOM):
 * one read of its own TUN, or a shared device's packets for this tunnel (shared-member-device.ts).
 */
export function transmitBatch(tunnel: Tunnel, count: number): void {
  const batch = tunnel.batches.fromTun;
  const { data, offsets, lengths, addrs, ports, slotSize } = batch;
  const counters = tunnel.counters;
  if (!tunnel.sending) {
    // A hub-role tunnel without a verified address:port sends nowhere (never to a stale mapping).
    counters.txDrop('unbound', count);
    return;
  }
  // Read once per batch: a live update lands between batches, never inside one.
  const plan = tunnel.plan;
  const frame = plan.frame;
  const header4 = plan.header4;
  const header6 = plan.header6;
  const mtu = plan.mtu;
  const remote = tunnel.remoteAddress;
  const remote6 = tunnel.remoteAddress6;
  const remotePort = tunnel.remotePort;
  const clampMss = tunnel.spec.mssClamp;
  // ipip over IPv6 sends inner IPv6 through its other socket (protocol 41), one at a time.
  const apart6 = tunnel.socket6 !== tunnel.socket;
  let out = 0;
  let bytes = 0;
  let replies = 0;
  for (let i = 0; i < count; i++) {
    const slot = i * slotSize;
    const start = slot + offsets[i]!;
    const length = lengths[i]!;
    const version = length > 0 ? data[start]! >>> 4 : 0;
    let header: Uint8Array;
    if (frame !== null) {
      // gretap: Ethernet frames from a TAP, whatever they carry. A frame beyond the TAP's MTU
      // (set larger by hand) has no ICMP to answer it at this layer: it is dropped and counted.
      if (length < ETHERNET_HEADER_LENGTH) {
        counters.txDrop('bad-inner');
        continue;
      }
      if (length > mtu + ETHERNET_HEADER_LENGTH) {
        counters.txDrop('too-big');
        continue;
      }
      header = frame;
    } else if (version === 4 && length >= 20) {
      if (length > mtu && (data[start + IPV4_FLAGS]! & DF_BIT) !== 0) {
        replies += answerTooBig(tunnel, replies, start, length, 4);
        continue;
      }
      if (clampMss && data[start + IPV4_PROTOCOL] === IPPROTO_TCP) clampTcpMss(data, start, length, mtu - TCP_IP_OVERHEAD);
      header = header4;
    } else if (version === 6 && length >= 40) {
      if (header6 === null) {
        counters.txDrop('unsupported-inner');
        continue;
      }
      if (length > mtu) {
        replies += answerTooBig(tunnel, replies, start, length, 6);
        continue;
      }
      if (clampMss && data[start + 6] === IPPROTO_TCP) clampTcpMss(data, start, length, mtu - TCP_IP_OVERHEAD - 20);
      if (apart6) {
        sendApart(tunnel, data, start, length);
        continue;
      }
      header = header6;
    } else {
      counters.txDrop('bad-inner');
      continue;
    }
    const headerLength = header.length;
    let packetStart = start - headerLength;
    for (let k = 0; k < headerLength; k++) data[packetStart + k] = header[k]!;
    const outLength = length + headerLength;
    if (out !== i) {
      // An earlier slot was dropped: slide this packet down so slots [0, out) stay contiguous.
      const target = out * slotSize + (packetStart - slot);
      data.copy(data, target, packetStart, packetStart + outLength);
      packetStart = target;
    }
    offsets[out] = packetStart - out * slotSize;
    lengths[out] = outLength;
    if (remote6 === null) addrs[out] = remote;
    else batch.addrs6.set(remote6, out * 16);
    ports[out] = remotePort;
    bytes += length;
    out++;
  }
  if (out > 0 && tunnel.sas.encrypted) {
    const sealed = sealBatch(tunnel, out);
    if (sealed.sealed > 0) sendEncapsulated(tunnel, sealed.sealed, sealed.bytes, innerLengths);
  } else if (out > 0) {
    sendEncapsulated(tunnel, out, bytes, null);
  }
  if (replies > 0) writeReplies(tunnel, replies);
  const member = tunnel.member;
  if (member !== null) {
    tunnel.absorbFastRoute();
    member.noteTransmit();
  }
}

/**
 * An encrypted tunnel's batch, slots [0, out) holding its outer payloads: seals each in place as
 * ESP (next header 47, 4 or 41 by what it carries) and keeps the sealed ones contiguous. Without
 * an outbound SA nothing leaves (`tx:no-sa`): never a cleartext packet. Returns how many remain,
 * their inner bytes in `bytes`.
 */
function sealBatch(tunnel: Tunnel, out: number): { sealed: number; bytes: number } {
  const sas = tunnel.sas;
  if (sas.outbound === null) {
    tunnel.counters.txDrop('no-sa', out);
    return { sealed: 0, bytes: 0 };
  }
  const batch = tunnel.batches.fromTun;
  const { data, offsets, lengths, slotSize } = batch;
  const esp = tunnel.plan.esp!;
  const headerLength = tunnel.plan.header4.length;
  for (let i = 0; i < out; i++) {
    const version = tunnel.plan.frame !== null ? 4 : data[i * slotSize + offsets[i]! + headerLength]! >>> 4;
    sealResults.nextHeaders[i] = version === 6 ? esp.nextHeader6 : esp.nextHeader4;
    innerLengths[i] = lengths[i]! - headerLength;
  }
  sas.seal(batch, out, sealResults);
  let kept = 0;
  let bytes = 0;
  for (let i = 0; i < out; i++) {
    // A refused slot (sequence numbers exhausted, no room) was counted by its SA; it is dropped.
    if (sealResults.outcomes[i] !== 0) continue;
    if (kept !== i) {
      const from = i * slotSize + offsets[i]!;
      data.copy(data, kept * slotSize + offsets[i]!, from, from + lengths[i]!);
      offsets[kept] = offsets[i]!;
      lengths[kept] = lengths[i]!;
      batch.addrs[kept] = batch.addrs[i]!;
      batch.ports[kept] = batch.ports[i]!;
      batch.addrs6.copyWithin(kept * 16, i * 16, i * 16 + 16);
    }
    innerLengths[kept] = innerLengths[i]!;
    bytes += innerLengths[i]!;
    kept++;
  }
  return { sealed: kept, bytes };
}

/** Hands slots [0, out) to the outer socket; `inner` gives each slot's inner length where the slot holds more than header and packet (ESP). */
function sendEncapsulated(tunnel: Tunnel, out: number, bytes: number, inner: Uint32Array | null): void {
  const batch = tunnel.batches.fromTun;
  const counters = tunnel.counters;
  let accepted: number;
  try {
    accepted = tunnel.socket.endpoint.writeBatch(batch, out);
  } catch {
    counters.txDrop('io-error', out);
    return;
  }
  if (accepted < out) {
    const headerLength = tunnel.plan.header4.length;
    for (let i = accepted; i < out; i++) bytes -= inner !== null ? inner[i]! : batch.lengths[i]! - headerLength;
    counters.txDrop('queue-full', out - accepted);
  }
  counters.txPackets += accepted;
  counters.txBytes += bytes;
}

/** Sends one bare inner packet through the tunnel's second socket (ipip over IPv6: IPv6 in IPv6). */
function sendApart(tunnel: Tunnel, data: Uint8Array, start: number, length: number): void {
  const socket = tunnel.socket6;
  const batch = socket.controlBatch;
  if (length > batch.slotSize) {
    tunnel.counters.txDrop('too-big');
    return;
  }
  batch.data.set(data.subarray(start, start + length), 0);
  batch.offsets[0] = 0;
  batch.lengths[0] = length;
  setDestination(socket, batch, 0, tunnel.remoteAddress, 0);
  try {
    if (socket.endpoint.writeBatch(batch, 1) !== 1) {
      tunnel.counters.txDrop('queue-full');
      return;
    }
  } catch {
    tunnel.counters.txDrop('io-error');
    return;
  }
  tunnel.counters.txPackets++;
  tunnel.counters.txBytes += length;
}

/**
 * Writes an ICMP "fragmentation needed" (IPv4) or "packet too big" (IPv6) for the packet at
 * `start` into reply slot `index`, sourced from the packet's own destination: the kernel accepts
 * it on the TUN (the destination routes back through it, so reverse-path filtering passes) and
 * lowers its path MTU for that destination. Returns 1 when a reply was built.
 */
function answerTooBig(tunnel: Tunnel, index: number, start: number, length: number, version: 4 | 6): number {
  tunnel.counters.txDrop('too-big');
  const replies = tunnel.batches.replies;
  if (index >= replies.capacity) return 0;
  const data = tunnel.batches.fromTun.data;
  const slot = index * replies.slotSize;
  const mtu = tunnel.plan.mtu;
  const written = version === 4
    ? buildIcmpFragmentationNeeded(replies.data, slot, data, start, length, mtu, read32(data, start + IPV4_DST))
    : buildIcmpv6PacketTooBig(replies.data, slot, data, start, length, mtu, data, start + IPV6_DST);
  if (written === 0) return 0;
  replies.offsets[index] = 0;
  replies.lengths[index] = written;
  return 1;
}

function writeReplies(tunnel: Tunnel, count: number): void {
  try {
    tunnel.tun.writeBatch(tunnel.batches.replies, count);
  } catch {
    tunnel.counters.rxDrop('io-error', count);
  }
}
