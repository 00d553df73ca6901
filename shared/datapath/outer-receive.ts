import { createEspSlotResults } from '../../native/esp.js';
import type { PacketBatchMemory } from '../../native/types.js';
import { hasNonEspMarker, IPPROTO_ESP, isNatKeepalive, NON_ESP_MARKER_LENGTH } from '../wire/esp.js';
import { decodeGre, GRE_PROTO_ETHERNET, GRE_PROTO_IPV4, GRE_PROTO_IPV6 } from '../wire/gre.js';
import { GRE_PROTO_KEEPALIVE } from '../wire/gre-keepalive.js';
import { decodeGue } from '../wire/gue.js';
import { IPPROTO_GRE, IPPROTO_IPIP, IPPROTO_IPV6 } from '../wire/ip-protocols.js';
import type { UdpHelloFrame } from '../wire/udp-hello.js';
import { decodeIpv4 } from '../wire/ipv4.js';
import { decodeUdpHelloFrame, GUE_HELLO_CTYPE, isUdpHelloBody } from '../wire/udp-hello.js';
import { GUE_KEEPALIVE_CTYPE } from '../wire/udp-keepalive.js';
import { internIpv6Key, UNKNOWN_OUTER_KEY } from './outer-address.js';
import { NO_GRE_KEY, type OuterSocket } from './outer-socket.js';
import { answerUdpKeepalive, flushReflections, reflectGreKeepalive } from './tunnel-keepalive.js';
import { ROUNDS_PER_WAKEUP } from './tunnel-transmit.js';
import type { Tunnel } from './tunnel.js';
import { receiveHubHello } from './udp-binding-hub.js';

/** An Ethernet header: destination and source MAC, EtherType. */
const ETHERNET_HEADER_LENGTH = 14;

// The kernel has verified the outer header's checksum before a raw socket sees the packet.
const OUTER_DECODE = { verifyChecksum: false } as const;

/** Outcome code the addon leaves alone on open (native/src/esp-batch.h kSkipSlot): slots of other tunnels. */
const ESP_SKIP_SLOT = 255;
const ESP_OK = 0;

// ESP slots of the batch being dispatched: which await opening (the tunnel is in targets[i]), and
// the addon's per-slot results. Shared by every socket (callbacks never nest).
const sealedSlots = new Uint8Array(64);
const openResults = createEspSlotResults(64);

/**
 * The outer → TUN path of one shared socket: reads a batch, decodes and demultiplexes each packet
 * (GRE by (source, key), IPIP by source, UDP by (source, port)), rewrites the slot to point at the
 * inner packet, and writes inner packets to their tunnels' TUNs, one call per tunnel per batch. When a whole batch
 * belongs to one tunnel (the common case) it goes to the TUN as is, with no copy. Every malformed
 * or unmatched packet is counted and dropped; an unexpected exception costs one batch, never the
 * process.
 */
export function receiveFromOuter(socket: OuterSocket, targets: (Tunnel | null)[], touched: Tunnel[]): void {
  const batch = socket.rxBatch;
  for (let round = 0; round < ROUNDS_PER_WAKEUP && !socket.endpoint.closed; round++) {
    let count: number;
    try {
      count = socket.endpoint.readBatch(batch, 0);
    } catch {
      socket.unmatched.rxDrop('io-error');
      return;
    }
    if (count === 0) return;
    try {
      dispatchBatch(socket, batch, count, targets, touched);
    } catch {
      // A bug, not a remote's doing; count it and keep serving.
      socket.unmatched.rxDrop('internal', count);
      for (const tunnel of touched) tunnel.toTunCount = 0;
      touched.length = 0;
    }
    // Peers' keepalives reflected in this batch leave together.
    flushReflections();
    if (count < batch.capacity) return;
  }
}

function dispatchBatch(socket: OuterSocket, batch: PacketBatchMemory, count: number, targets: (Tunnel | null)[], touched: Tunnel[]): void {
  let single: Tunnel | null = null;
  let mixed = false;
  let delivered = 0;
  let sealed = 0;
  for (let i = 0; i < count; i++) {
    sealedSlots[i] = 0;
    targets[i] = socket.transport === 'udp' ? decodeUdp(socket, batch, i)
      : socket.transport === 'gre' ? decodeRawGre(socket, batch, i)
        : socket.transport === 'esp' ? decodeRawEsp(socket, batch, i)
          : socket.transport === 'ipip' ? decodeRawIp(socket, batch, i, IPPROTO_IPIP, 4) : decodeRawIp(socket, batch, i, IPPROTO_IPV6, 6);
    sealed += sealedSlots[i]!;
  }
  if (sealed > 0) openSealedSlots(socket, batch, count, targets);
  for (let i = 0; i < count; i++) {
    const tunnel = targets[i]!;
    if (tunnel === null) continue;
    delivered++;
    if (single === null) single = tunnel;
    else if (single !== tunnel) mixed = true;
  }
  if (single === null) return;
  if (!mixed && delivered === count) {
    writeToTun(single, batch, count);
    return;
  }
  // Mixed: each tunnel's packets, in order, gathered into the engine's one toTun batch and
  // written with one call per tunnel (a batch holds no more packets than the toTun batch).
  for (let i = 0; i < count; i++) {
    const tunnel = targets[i];
    if (tunnel === null || tunnel === undefined || tunnel.toTunCount !== 0) continue;
    tunnel.toTunCount = 1;
    touched.push(tunnel);
  }
  for (const tunnel of touched) {
    const out = tunnel.batches.toTun;
    let k = 0;
    for (let i = 0; i < count; i++) {
      if (targets[i] !== tunnel) continue;
      const start = i * batch.slotSize + batch.offsets[i]!;
      const length = batch.lengths[i]!;
      batch.data.copy(out.data, k * out.slotSize, start, start + length);
      out.offsets[k] = 0;
      out.lengths[k] = length;
      k++;
    }
    tunnel.toTunCount = 0;
    writeToTun(tunnel, out, k);
  }
  touched.length = 0;
}

function writeToTun(tunnel: Tunnel, batch: PacketBatchMemory, count: number): void {
  const counters = tunnel.counters;
  let accepted: number;
  try {
    accepted = tunnel.closed ? 0 : tunnel.tun.writeBatch(batch, count);
  } catch {
    counters.rxDrop('io-error', count);
    return;
  }
  let bytes = 0;
  for (let i = 0; i < accepted; i++) bytes += batch.lengths[i]!;
  counters.rxPackets += accepted;
  counters.rxBytes += bytes;
  if (accepted < count) counters.rxDrop('queue-full', count - accepted);
  tunnel.member?.heardNow();
}

// Where openRaw found the payload of a raw socket's packet, and its source (no allocation per packet).
let rawSource = 0;
let rawOffset = 0;
let rawLength = 0;

/**
 * Finds the payload and source of slot i of a raw socket: an IPv4 socket reads the outer header
 * (decoded, and its protocol checked: the kernel hands a raw socket only its own, but the bytes
 * are a remote's); an IPv6 socket reads the payload alone, its source in addrs6. False when the
 * packet was dropped and counted.
 */
function openRaw(socket: OuterSocket, batch: PacketBatchMemory, i: number, protocol: number): boolean {
  const start = i * batch.slotSize + batch.offsets[i]!;
  if (socket.family === 6) {
    rawSource = socket.sourceOf(batch, i);
    rawOffset = start;
    rawLength = batch.lengths[i]!;
    return true;
  }
  const ip = decodeIpv4(batch.data, start, batch.lengths[i]!, OUTER_DECODE);
  if (!ip.ok) {
    socket.dropFrom(batch.addrs[i]!, ip.reason);
    return false;
  }
  if (ip.protocol !== protocol) {
    socket.dropFrom(ip.src, 'unsupported-protocol');
    return false;
  }
  rawSource = ip.src;
  rawOffset = ip.payloadOffset;
  rawLength = ip.payloadLength;
  return true;
}

function decodeRawGre(socket: OuterSocket, batch: PacketBatchMemory, i: number): Tunnel | null {
  if (!openRaw(socket, batch, i, IPPROTO_GRE)) return null;
  const source = rawSource;
  const gre = decodeGre(batch.data, rawOffset, rawLength);
  if (!gre.ok) {
    socket.dropFrom(source, gre.reason);
    return null;
  }
  const tunnel = socket.lookup(source, gre.keyPresent ? gre.key! : NO_GRE_KEY);
  if (tunnel === undefined) {
    socket.dropFrom(source, 'no-tunnel');
    return null;
  }
  if (tunnel.sas.encrypted) {
    tunnel.counters.rxDrop('cleartext');
    return null;
  }
  return acceptGrePayload(tunnel, socket, batch, i, gre.protocolType, gre.payloadOffset, gre.payloadLength);
}

/**
 * ESP on a raw socket (protocol 50): the tunnel whose remote sent it (one encrypted tunnel per
 * remote and local address), its slot pointed at the ESP packet and left for openSealedSlots.
 */
function decodeRawEsp(socket: OuterSocket, batch: PacketBatchMemory, i: number): Tunnel | null {
  if (!openRaw(socket, batch, i, IPPROTO_ESP)) return null;
  const tunnel = socket.lookup(rawSource, 0);
  if (tunnel === undefined) {
    socket.dropFrom(rawSource, 'no-tunnel');
    return null;
  }
  return awaitOpening(tunnel, batch, i, rawOffset, rawLength);
}

/** Marks slot i, [offset, offset+length) of the batch's data, as ESP for `tunnel` to open. */
function awaitOpening(tunnel: Tunnel, batch: PacketBatchMemory, i: number, offset: number, length: number): Tunnel | null {
  if (!tunnel.sas.encrypted) {
    // ESP for a cleartext tunnel: nothing here can open it.
    tunnel.counters.rxDrop('no-sa');
    return null;
  }
  batch.offsets[i] = offset - i * batch.slotSize;
  batch.lengths[i] = length;
  sealedSlots[i] = 1;
  return tunnel;
}

/**
 * Opens the ESP slots of a batch in place, one addon call per tunnel with the tunnel's inbound
 * SAs (the other slots skipped), then hands each opened payload to the same checks as cleartext:
 * GRE (key checked; a Cisco keepalive inside ESP is answered inside ESP), or IPv4/IPv6 for ipip.
 * What the addon refuses (no SA for the SPI, ICV, replay) its SAs and table counted already.
 */
function openSealedSlots(socket: OuterSocket, batch: PacketBatchMemory, count: number, targets: (Tunnel | null)[]): void {
  for (let first = 0; first < count; first++) {
    if (sealedSlots[first] === 0) continue;
    const tunnel = targets[first]!;
    for (let i = 0; i < count; i++) openResults.outcomes[i] = sealedSlots[i] === 1 && targets[i] === tunnel ? ESP_OK : ESP_SKIP_SLOT;
    tunnel.sas.inbound!.open(batch, count, openResults);
    for (let i = first; i < count; i++) {
      if (sealedSlots[i] === 0 || targets[i] !== tunnel) continue;
      sealedSlots[i] = 0;
      targets[i] = openResults.outcomes[i] === ESP_OK ? acceptOpened(tunnel, socket, batch, i, openResults.nextHeaders[i]!) : null;
    }
  }
}

function acceptOpened(tunnel: Tunnel, socket: OuterSocket, batch: PacketBatchMemory, i: number, nextHeader: number): Tunnel | null {
  const offset = i * batch.slotSize + batch.offsets[i]!;
  const length = batch.lengths[i]!;
  switch (nextHeader) {
    case IPPROTO_GRE: {
      const gre = decodeGre(batch.data, offset, length);
      if (!gre.ok) {
        tunnel.counters.rxDrop(gre.reason);
        return null;
      }
      if ((gre.keyPresent ? gre.key! : NO_GRE_KEY) !== tunnel.greKey) {
        tunnel.counters.rxDrop('no-tunnel');
        return null;
      }
      return acceptGrePayload(tunnel, socket, batch, i, gre.protocolType, gre.payloadOffset, gre.payloadLength);
    }
    case IPPROTO_IPIP:
      return tunnel.plan.esp?.nextHeader4 === IPPROTO_IPIP ? acceptInner(tunnel, batch, i, 4, offset, length) : unsupported(tunnel);
    case IPPROTO_IPV6:
      return tunnel.plan.esp?.nextHeader6 === IPPROTO_IPV6 && tunnel.plan.header6 !== null ? acceptInner(tunnel, batch, i, 6, offset, length) : unsupported(tunnel);
    default:
      return unsupported(tunnel);
  }
}

function unsupported(tunnel: Tunnel): null {
  tunnel.counters.rxDrop('unsupported-protocol');
  return null;
}

/** IPv4 in IP (protocol 4) or, over IPv6, IPv6 in IP (protocol 41): demultiplexed by source alone. */
function decodeRawIp(socket: OuterSocket, batch: PacketBatchMemory, i: number, protocol: number, version: 4 | 6): Tunnel | null {
  if (!openRaw(socket, batch, i, protocol)) return null;
  const tunnel = socket.lookup(rawSource, 0);
  if (tunnel === undefined) {
    socket.dropFrom(rawSource, 'no-tunnel');
    return null;
  }
  if (tunnel.sas.encrypted) {
    tunnel.counters.rxDrop('cleartext');
    return null;
  }
  return acceptInner(tunnel, batch, i, version, rawOffset, rawLength);
}

function decodeUdp(socket: OuterSocket, batch: PacketBatchMemory, i: number): Tunnel | null {
  const source = socket.sourceOf(batch, i);
  const port = batch.ports[i]!;
  const tunnel = socket.lookup(source, port);
  const data = batch.data;
  const start = i * batch.slotSize + batch.offsets[i]!;
  const length = batch.lengths[i]!;
  if (tunnel === undefined) {
    if (socket.hasBindings) {
      receiveFromUnbound(socket, batch, i, source, port, data, start, length);
    } else {
      socket.dropFrom(source, socket.anyFrom(source) === undefined ? 'no-tunnel' : 'wrong-source-port');
    }
    return null;
  }
  if (tunnel.spec.esp !== null) return receiveEspInUdp(tunnel, socket, batch, i, source, port, data, start, length);
  if (tunnel.spec.encap === 'fou') {
    const gre = decodeGre(data, start, length);
    if (!gre.ok) {
      tunnel.counters.rxDrop(gre.reason);
      return null;
    }
    if ((gre.keyPresent ? gre.key! : NO_GRE_KEY) !== tunnel.greKey) {
      tunnel.counters.rxDrop('no-tunnel');
      return null;
    }
    return acceptGrePayload(tunnel, socket, batch, i, gre.protocolType, gre.payloadOffset, gre.payloadLength);
  }
  const gue = decodeGue(data, start, length);
  if (!gue.ok) {
    tunnel.counters.rxDrop(gue.reason);
    return null;
  }
  if (gue.control) {
    if (gue.protocol === GUE_HELLO_CTYPE) {
      receiveHello(tunnel, socket, 'gue', null, source, port, data, gue.payloadOffset, gue.payloadLength);
    } else if (gue.protocol === GUE_KEEPALIVE_CTYPE && answerUdpKeepalive(tunnel, data, gue.payloadOffset, gue.payloadLength)) {
      tunnel.liveness.markHeard();
    } else {
      tunnel.counters.rxDrop('unsupported-protocol');
    }
    return null;
  }
  switch (gue.protocol) {
    case IPPROTO_IPIP:
      return acceptInner(tunnel, batch, i, 4, gue.payloadOffset, gue.payloadLength);
    case IPPROTO_IPV6:
      return acceptInner(tunnel, batch, i, 6, gue.payloadOffset, gue.payloadLength);
    case IPPROTO_GRE: {
      // What Linux `type gre … encap gue` sends: GRE inside GUE.
      const gre = decodeGre(data, gue.payloadOffset, gue.payloadLength);
      if (!gre.ok) {
        tunnel.counters.rxDrop(gre.reason);
        return null;
      }
      return acceptGrePayload(tunnel, socket, batch, i, gre.protocolType, gre.payloadOffset, gre.payloadLength);
    }
    default:
      tunnel.counters.rxDrop('unsupported-protocol');
      return null;
  }
}

/**
 * A UDP payload from an ESP-in-UDP tunnel's remote (RFC 3948): the one-byte NAT keepalive is
 * ignored, a hello or ack follows the non-ESP marker, anything else is ESP to open.
 */
function receiveEspInUdp(
  tunnel: Tunnel, socket: OuterSocket, batch: PacketBatchMemory, i: number, source: number, port: number, data: Uint8Array, start: number, length: number,
): Tunnel | null {
  if (isNatKeepalive(data, start, length)) return null;
  if (hasNonEspMarker(data, start, length)) {
    const frame = decodeUdpHelloFrame(data, start + NON_ESP_MARKER_LENGTH, length - NON_ESP_MARKER_LENGTH);
    if (frame.ok) receiveHello(tunnel, socket, frame.encap, frame.greKey, source, port, data, frame.payloadOffset, frame.payloadLength);
    else tunnel.counters.rxDrop('unsupported-protocol');
    return null;
  }
  return awaitOpening(tunnel, batch, i, start, length);
}

function acceptGrePayload(
  tunnel: Tunnel, socket: OuterSocket, batch: PacketBatchMemory, i: number, protocolType: number, offset: number, length: number,
): Tunnel | null {
  if (protocolType === GRE_PROTO_IPV4 || protocolType === GRE_PROTO_IPV6) {
    // A peer's Cisco keepalive has the outer path's IP version (IPv6 keepalives on ip6gre).
    const family = protocolType === GRE_PROTO_IPV4 ? 4 : 6;
    if (family === socket.family && reflectGreKeepalive(tunnel, batch.data, offset, length)) {
      tunnel.liveness.markHeardUnasked();
      return null;
    }
    if (tunnel.plan.frame !== null) {
      // An IP packet on a tunnel of Ethernet frames.
      tunnel.counters.rxDrop('unsupported-protocol');
      return null;
    }
    return acceptInner(tunnel, batch, i, family, offset, length);
  }
  if (protocolType === GRE_PROTO_ETHERNET) {
    if (tunnel.plan.frame === null) {
      tunnel.counters.rxDrop('unsupported-protocol');
      return null;
    }
    return acceptFrame(tunnel, batch, i, offset, length);
  }
  if (protocolType === GRE_PROTO_KEEPALIVE) {
    // A raw GRE path gets its own Cisco keepalive back (empty body); a fou path a UDP keepalive
    // body or a hello.
    if (socket.transport === 'udp' && tunnel.spec.esp === null) {
      if (isUdpHelloBody(batch.data, offset, length)) {
        receiveHello(tunnel, socket, 'fou', tunnel.greKey === NO_GRE_KEY ? null : tunnel.greKey, socket.sourceOf(batch, i), batch.ports[i]!, batch.data, offset, length);
        return null;
      }
      if (!answerUdpKeepalive(tunnel, batch.data, offset, length)) {
        tunnel.counters.rxDrop('not-keepalive');
        return null;
      }
    } else {
      tunnel.probes.answered('keepalive');
    }
    tunnel.liveness.markHeard();
    return null;
  }
  tunnel.counters.rxDrop('unsupported-protocol');
  return null;
}

/** A hello frame from a tunnel's remote: a member takes acks, a hub verifies and binds. */
function receiveHello(
  tunnel: Tunnel, socket: OuterSocket, encap: 'fou' | 'gue', greKey: number | null, source: number, port: number,
  data: Uint8Array, offset: number, length: number,
): void {
  if (tunnel.member !== null) tunnel.member.receiveAck(data, offset, length);
  // A hello from an address:port another tunnel holds may still claim a hub-role tunnel (and be
  // refused as 'hello-address-taken' when that holder is static).
  else if (socket.hasBindings) receiveHubHello(socket, encap, greKey, source, port, data, offset, length);
  else tunnel.counters.rxDrop('hello-unexpected');
}

/**
 * UDP from an address:port no tunnel receives from, on a socket with hub-role tunnels: a hello
 * may bind it; anything else is dropped as 'unbound-source' and never re-aims a tunnel. An IPv6
 * source nobody named yet gets its key only if the hello verifies.
 */
function receiveFromUnbound(
  socket: OuterSocket, batch: PacketBatchMemory, i: number, source: number, port: number, data: Uint8Array, start: number, length: number,
): void {
  const frame = helloFrameIn(data, start, length);
  if (!frame.ok) {
    socket.dropFrom(source, 'unbound-source');
    return;
  }
  const resolve = source === UNKNOWN_OUTER_KEY ? () => internIpv6Key(batch.addrs6, i * 16) : null;
  receiveHubHello(socket, frame.encap, frame.greKey, source, port, data, frame.payloadOffset, frame.payloadLength, resolve);
}

/**
 * A hello frame as fou or gue send it, or behind RFC 3948's non-ESP marker as ESP in UDP sends it
 * (a keyless fou hello also starts with four zero bytes, its GRE header, so both are tried).
 */
function helloFrameIn(data: Uint8Array, start: number, length: number): UdpHelloFrame | ReturnType<typeof decodeUdpHelloFrame> {
  const frame = decodeUdpHelloFrame(data, start, length);
  if (frame.ok || !hasNonEspMarker(data, start, length)) return frame;
  return decodeUdpHelloFrame(data, start + NON_ESP_MARKER_LENGTH, length - NON_ESP_MARKER_LENGTH);
}

/** An Ethernet frame for a gretap tunnel's TAP: at least a header long; points slot i at it. */
function acceptFrame(tunnel: Tunnel, batch: PacketBatchMemory, i: number, offset: number, length: number): Tunnel | null {
  if (length < ETHERNET_HEADER_LENGTH) {
    tunnel.counters.rxDrop('bad-inner');
    return null;
  }
  tunnel.liveness.markHeardUnasked();
  batch.offsets[i] = offset - i * batch.slotSize;
  batch.lengths[i] = length;
  return tunnel;
}

/**
 * Checks the inner packet's version, length and (when the tunnel filters them) source, and points
 * slot i at it.
 */
function acceptInner(tunnel: Tunnel, batch: PacketBatchMemory, i: number, version: 4 | 6, offset: number, length: number): Tunnel | null {
  const data = batch.data;
  if (length < (version === 4 ? 20 : 40) || data[offset]! >>> 4 !== version) {
    tunnel.counters.rxDrop('bad-inner');
    return null;
  }
  tunnel.liveness.markHeardUnasked();
  const sources = tunnel.spec.sources;
  if (sources !== null && !sources.allows(data, offset, version)) {
    tunnel.counters.rxDrop('spoofed');
    return null;
  }
  tunnel.destinations?.count(data, offset, version, length);
  batch.offsets[i] = offset - i * batch.slotSize;
  batch.lengths[i] = length;
  return tunnel;
}
