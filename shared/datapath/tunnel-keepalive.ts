import { createEspSlotResults } from '../../native/esp.js';
import type { PacketBatchMemory } from '../../native/types.js';
import { writeNonEspMarker } from '../wire/esp.js';
import { encodeGreHeader } from '../wire/gre.js';
import {
  buildGreKeepalive, buildGreKeepalive6, decodeGreKeepalive, decodeGreKeepalive6, GRE_PROTO_KEEPALIVE,
} from '../wire/gre-keepalive.js';
import { encodeGueHeader } from '../wire/gue.js';
import { decodeUdpKeepalive, encodeUdpKeepalive, GUE_KEEPALIVE_CTYPE } from '../wire/udp-keepalive.js';
import { KeepaliveWheel } from './keepalive-wheel.js';
import { ipv6KeyBytes } from './outer-address.js';
import type { TunnelSpec } from './tunnel-spec.js';
import type { KeepaliveSchedule, Tunnel, TunnelSocket } from './tunnel.js';

/** Adds what many tunnels' fast routes moved to their counters, in one call (fast-route-sync.ts's FastRouteAbsorber). */
export type AbsorbFastRoutes = (tunnels: readonly Tunnel[]) => void;

/** How an engine's keepalives run. */
export interface KeepalivesOptions {
  /**
   * Skip a tunnel's keepalive after an interval in which its remote spoke unasked
   * (TunnelLiveness.tick), as a hub does for members that send their own.
   */
  passive?: boolean;
  /** Called when an interval ends with nothing heard from a tunnel's remote after one that heard it. */
  onQuiet?: (tunnel: Tunnel) => void;
  /** The wheel's tick (tests). */
  tickMs?: number;
}

/**
 * The keepalives of every tunnel of an engine, on one timer wheel (keepalive-wheel.ts). Each tick
 * takes the tunnels due: adds what their fast routes moved (one native call for all), advances
 * their liveness, sends their keepalives in one batch per socket, and lets a member that missed an
 * interval say hello at once (its NAT may have re-mapped it). ipip and interval 0 track no
 * liveness and read as up.
 */
export class Keepalives implements KeepaliveSchedule {
  readonly #wheel: KeepaliveWheel<Tunnel>;
  /** Tunnels that moved this turn: their probes leave together at its end, one batch per socket (a storm of moves is a few calls, not thousands). */
  readonly #probes = new Set<Tunnel>();

  readonly #passive: boolean;
  readonly #onQuiet: ((tunnel: Tunnel) => void) | undefined;

  constructor(private readonly absorb: AbsorbFastRoutes, options: KeepalivesOptions = {}) {
    this.#passive = options.passive ?? false;
    this.#onQuiet = options.onQuiet;
    this.#wheel = new KeepaliveWheel((due) => this.#send(due), options.tickMs);
  }

  restart(tunnel: Tunnel, probeNow: boolean): void {
    this.#wheel.cancel(tunnel);
    const { keepaliveInterval, encap } = tunnel.spec;
    if (keepaliveInterval === 0 || encap === 'ipip') {
      tunnel.liveness.assumeUp();
      tunnel.livenessChanged();
      return;
    }
    this.#wheel.schedule(tunnel, keepaliveInterval * 1000);
    if (probeNow) sendKeepalive(tunnel);
  }

  probeThisTurn(tunnel: Tunnel): void {
    if (this.#probes.size === 0) setImmediate(() => this.#sendProbes());
    this.#probes.add(tunnel);
  }

  stop(tunnel: Tunnel): void {
    this.#wheel.cancel(tunnel);
    this.#probes.delete(tunnel);
  }

  running(tunnel: Tunnel): boolean {
    return this.#wheel.has(tunnel);
  }

  /** How many tunnels send keepalives. */
  get size(): number {
    return this.#wheel.size;
  }

  #send(due: Tunnel[]): void {
    const live = due.filter((tunnel) => !tunnel.closed);
    this.absorb(live);
    const probing: Tunnel[] = [];
    const quieted: Tunnel[] = [];
    for (const tunnel of live) {
      const wasQuiet = tunnel.liveness.quiet;
      if (tunnel.liveness.tick(this.#passive)) probing.push(tunnel);
      if (tunnel.liveness.quiet && !wasQuiet) quieted.push(tunnel);
      this.#wheel.schedule(tunnel, tunnel.spec.keepaliveInterval * 1000);
    }
    sendKeepalivesBatched(probing);
    for (const tunnel of live) {
      const member = tunnel.member;
      if (member !== null && tunnel.liveness.missed > 0 && !member.waiting) member.sayHello();
    }
    if (this.#onQuiet !== undefined) for (const tunnel of quieted) this.#onQuiet(tunnel);
  }

  #sendProbes(): void {
    const moved = [...this.#probes].filter((tunnel) => !tunnel.closed);
    this.#probes.clear();
    sendKeepalivesBatched(moved);
  }
}

/** Sends a keepalive on each of `tunnels` that sends: one batch per socket, an encrypted tunnel's on its own. */
function sendKeepalivesBatched(tunnels: readonly Tunnel[]): void {
  const bySocket = new Map<TunnelSocket, Tunnel[]>();
  for (const tunnel of tunnels) {
    if (!tunnel.sending || tunnel.spec.encap === 'ipip') continue;
    // An encrypted tunnel's keepalive is sealed in its SA's own sequence: sent on its own.
    if (tunnel.sas.encrypted) {
      sendKeepalive(tunnel);
      continue;
    }
    const queued = bySocket.get(tunnel.socket);
    if (queued === undefined) bySocket.set(tunnel.socket, [tunnel]);
    else queued.push(tunnel);
  }
  for (const [socket, batch] of bySocket) sendKeepalives(socket, batch);
}

/** Sends the keepalives of `tunnels` (all of `socket`, all sending) through its keepalive batch, as few calls as fit. */
function sendKeepalives(socket: TunnelSocket, tunnels: readonly Tunnel[]): void {
  const batch = socket.keepaliveBatch;
  for (let start = 0; start < tunnels.length; start += batch.capacity) {
    const part = tunnels.slice(start, start + batch.capacity);
    let count = 0;
    const sent: Tunnel[] = [];
    for (const tunnel of part) {
      const length = buildKeepalive(tunnel, batch.data, count * batch.slotSize);
      if (length === 0) continue;
      batch.offsets[count] = 0;
      batch.lengths[count] = length;
      setDestination(socket, batch, count, tunnel.remoteAddress, tunnel.remotePort);
      sent.push(tunnel);
      count++;
    }
    if (count === 0) continue;
    let accepted: number;
    try {
      accepted = socket.endpoint.writeBatch(batch, count);
    } catch {
      for (const tunnel of sent) tunnel.counters.txDrop('io-error');
      continue;
    }
    for (let i = accepted; i < count; i++) sent[i]!.counters.txDrop('queue-full');
  }
}

/**
 * After a live update: a new retry count applies at once; the keepalives restart on a new
 * interval, or on a new path (`moved`), where one is also sent at the end of this turn.
 */
export function followKeepaliveSpec(tunnel: Tunnel, before: TunnelSpec, moved: boolean): void {
  tunnel.liveness.retries = tunnel.spec.keepaliveRetries;
  if (!moved && before.keepaliveInterval === tunnel.spec.keepaliveInterval) return;
  tunnel.keepalives.restart(tunnel, false);
  if (moved && tunnel.keepalives.running(tunnel)) tunnel.keepalives.probeThisTurn(tunnel);
}

/**
 * Keepalives per encapsulation:
 * - gre: the Cisco keepalive (buildGreKeepalive, or buildGreKeepalive6 over IPv6); the peer's
 *   forwarding sends its inner packet back to us as GRE of protocol type 0, which proves the round
 *   trip. We reflect peers' ones.
 * - fou: GRE of protocol type 0 whose payload is a UDP keepalive body (udp-keepalive.ts);
 * - gue: a GUE control message of type GUE_KEEPALIVE_CTYPE with the same body.
 *   On both UDP paths a probe is answered with an echo; each probe's sequence differs.
 * - ipip: none (no keepalive format exists for bare IPIP); liveness is not tracked.
 */
export function sendKeepalive(tunnel: Tunnel): void {
  // A hub-role tunnel with no verified address has nobody to probe.
  if (tunnel.spec.encap === 'ipip' || !tunnel.sending) return;
  const length = buildKeepalive(tunnel, tunnel.socket.controlBatch.data, 0);
  if (length > 0) sendControl(tunnel, length);
}

/** Writes the tunnel's next keepalive probe at `offset` of `target` (a new sequence); its length, 0 for ipip. */
function buildKeepalive(tunnel: Tunnel, target: Buffer, offset: number): number {
  if (tunnel.spec.encap === 'ipip') return 0;
  const state = tunnel.keepalive;
  state.sequence = (state.sequence + 1) >>> 0;
  state.lastProbeAt = Date.now();
  // gretap speaks raw GRE too: the same Cisco keepalive (Linux gretap does not return it). An
  // encrypted gre tunnel sends it inside ESP, where a Linux peer's policy for protocol 47 seals
  // the inner packet on its way back.
  const gre = tunnel.socket.transport === 'gre' || tunnel.sas.encrypted;
  if (!gre) return writeUdpKeepalive(tunnel, target, offset, 'probe', state.sequence, state.nonce);
  const probe = greProbeOf(tunnel);
  target.set(probe, offset);
  return probe.length;
}

/** The tunnel's Cisco keepalive: the same bytes every interval on one path, so built once per path (a hub sends a thousand a second). */
function greProbeOf(tunnel: Tunnel): Uint8Array {
  const cached = tunnel.keepalive.greProbe;
  const { localAddress: local, remoteAddress: remote } = tunnel;
  const key = tunnel.spec.key;
  if (cached !== null && cached.local === local && cached.remote === remote && cached.key === key) return cached.bytes;
  const bytes = Buffer.alloc(GRE_PROBE_ROOM);
  const length = tunnel.spec.outerFamily === 6
    ? buildGreKeepalive6(bytes, 0, keyed(tunnel, { local: ipv6KeyBytes(local), remote: ipv6KeyBytes(remote) }))
    : buildGreKeepalive(bytes, 0, keyed(tunnel, { local, remote }));
  tunnel.keepalive.greProbe = { local, remote, key, bytes: bytes.subarray(0, length) };
  return tunnel.keepalive.greProbe.bytes;
}

/** Room for the longest Cisco keepalive: keyed GRE, an IPv6 header, keyed GRE. */
const GRE_PROBE_ROOM = 8 + 40 + 8;

/**
 * A GRE payload of protocol type 0x0800 (0x86DD on an IPv6 path) that may be a peer's Cisco
 * keepalive: reflects it toward the tunnel's remote and returns true, or returns false for
 * ordinary data. Reflection happens only when the inner packet goes from our local address to the
 * tunnel's own remote, so a forged keepalive cannot aim our packets at anyone else.
 */
export function reflectGreKeepalive(tunnel: Tunnel, data: Uint8Array, offset: number, length: number): boolean {
  if (tunnel.socket.family === 6) return reflectGreKeepalive6(tunnel, data, offset, length);
  // Cheap test first: inner IPv4 carrying GRE; everything else is data.
  if (length < 24 || data[offset]! >>> 4 !== 4 || data[offset + 9] !== 47) return false;
  const keepalive = decodeGreKeepalive(data, offset, length);
  if (!keepalive.ok) return false;
  return reflectIfOurs(tunnel, keepalive.src === tunnel.localAddress && keepalive.dst === tunnel.remoteAddress, data, keepalive);
}

function reflectGreKeepalive6(tunnel: Tunnel, data: Uint8Array, offset: number, length: number): boolean {
  if (length < 44 || data[offset]! >>> 4 !== 6 || data[offset + 6] !== 47) return false;
  const keepalive = decodeGreKeepalive6(data, offset, length);
  if (!keepalive.ok) return false;
  const ours = sameBytes(data, keepalive.srcOffset, ipv6KeyBytes(tunnel.localAddress))
    && sameBytes(data, keepalive.dstOffset, ipv6KeyBytes(tunnel.remoteAddress));
  return reflectIfOurs(tunnel, ours, data, keepalive);
}

/**
 * Sends a peer's keepalive's inner GRE back when it names our two addresses, else counts it; always
 * true (handled). In the clear it is queued: the reflections of one received batch leave together
 * (flushReflections), so a hub of thousands of members that each send keepalives does not make a
 * call per packet. An encrypted tunnel's is sealed and sent on its own.
 */
function reflectIfOurs(tunnel: Tunnel, ours: boolean, data: Uint8Array, keepalive: { greOffset: number; greLength: number }): boolean {
  if (!ours) {
    tunnel.counters.rxDrop('not-keepalive');
    return true;
  }
  const inner = data.subarray(keepalive.greOffset, keepalive.greOffset + keepalive.greLength);
  if (!tunnel.sas.encrypted && tunnel.sending) {
    queueReflection(tunnel, inner);
    return true;
  }
  const batch = tunnel.socket.controlBatch;
  if (keepalive.greLength > batch.slotSize) return true;
  batch.data.set(inner, 0);
  sendControl(tunnel, keepalive.greLength);
  return true;
}

/** Reflections queued while one received batch is dispatched (callbacks never nest: one socket at a time). */
const queuedReflections: Tunnel[] = [];

function queueReflection(tunnel: Tunnel, inner: Uint8Array): void {
  const socket = tunnel.socket;
  const batch = socket.keepaliveBatch;
  if (inner.length > batch.slotSize) return;
  if (queuedReflections.length > 0 && (queuedReflections[0]!.socket !== socket || queuedReflections.length === batch.capacity)) flushReflections();
  const slot = queuedReflections.length;
  batch.data.set(inner, slot * batch.slotSize);
  batch.offsets[slot] = 0;
  batch.lengths[slot] = inner.length;
  setDestination(socket, batch, slot, tunnel.remoteAddress, tunnel.remotePort);
  queuedReflections.push(tunnel);
}

/** Sends the reflections queued since the last call, in one call; the receive path calls it after each batch. */
export function flushReflections(): void {
  const count = queuedReflections.length;
  if (count === 0) return;
  const socket = queuedReflections[0]!.socket;
  let accepted = 0;
  try {
    accepted = socket.endpoint.writeBatch(socket.keepaliveBatch, count);
  } catch {
    for (const tunnel of queuedReflections) tunnel.counters.txDrop('io-error');
    queuedReflections.length = 0;
    return;
  }
  for (let i = accepted; i < count; i++) queuedReflections[i]!.counters.txDrop('queue-full');
  queuedReflections.length = 0;
}

function sameBytes(data: Uint8Array, offset: number, expected: Uint8Array): boolean {
  for (let i = 0; i < expected.length; i++) if (data[offset + i] !== expected[i]) return false;
  return true;
}

/**
 * A UDP keepalive body received on a fou (GRE type 0) or gue (control) path: answers a probe with
 * an echo (the remote spoke unasked) and times an echo of our own probe. Returns false when the
 * body is not a keepalive.
 */
export function answerUdpKeepalive(tunnel: Tunnel, data: Uint8Array, offset: number, length: number): boolean {
  const body = decodeUdpKeepalive(data, offset, length);
  if (!body.ok) return false;
  if (body.kind === 'probe') {
    tunnel.liveness.markHeardUnasked();
    const batch = tunnel.socket.controlBatch;
    sendControl(tunnel, writeUdpKeepalive(tunnel, batch.data, 0, 'echo', body.sequence, body.nonce));
  } else if (body.nonce === tunnel.keepalive.nonce && body.sequence === tunnel.keepalive.sequence) {
    tunnel.keepalive.rttMs = Date.now() - tunnel.keepalive.lastProbeAt;
    tunnel.probes.answered('keepalive');
  }
  return true;
}

function writeUdpKeepalive(
  tunnel: Tunnel, target: Uint8Array, offset: number, kind: 'probe' | 'echo', sequence: number, nonce: number,
): number {
  const headerLength = tunnel.spec.encap === 'gue'
    ? encodeGueHeader(target, offset, { control: true, protocol: GUE_KEEPALIVE_CTYPE })
    : encodeGreHeader(target, offset, keyed(tunnel, { protocolType: GRE_PROTO_KEEPALIVE }), 0);
  return headerLength + encodeUdpKeepalive(target, offset + headerLength, { kind, sequence, nonce });
}

function keyed<T extends object>(tunnel: Tunnel, fields: T): T & { key?: number } {
  return tunnel.spec.key === null ? fields : { ...fields, key: tunnel.spec.key };
}

/** Room left in front of a control packet for the ESP header when it is sealed in place. */
const CONTROL_HEADROOM = 64;
const controlResults = createEspSlotResults(1);

/**
 * Sends the `length` bytes at the start of the socket's control batch to the tunnel's remote. A
 * hub-role tunnel with no verified address:port sends nothing (counted 'unbound'): no reflection.
 * On an encrypted tunnel every control packet is a GRE packet and leaves sealed (`nextHeader` 47),
 * or is dropped as `tx:no-sa` without an outbound SA; never in the clear.
 */
export function sendControl(tunnel: Tunnel, length: number, nextHeader = 47): void {
  if (!tunnel.sending) {
    tunnel.counters.txDrop('unbound');
    return;
  }
  const batch = tunnel.socket.controlBatch;
  batch.offsets[0] = 0;
  batch.lengths[0] = length;
  if (tunnel.sas.encrypted && !sealControl(tunnel, batch, length, nextHeader)) return;
  transmitControl(tunnel, batch);
}

/**
 * Sends a hello or ack (already framed at the start of the control batch by `write`) outside ESP:
 * on ESP in UDP behind RFC 3948's non-ESP marker, which a Linux peer hands to its IKE socket and
 * otherwise ignores. The hello carries its own HMAC, so it needs no ESP.
 */
export function sendHelloFrame(tunnel: Tunnel, write: (target: Uint8Array, offset: number) => number): void {
  if (!tunnel.sending) {
    tunnel.counters.txDrop('unbound');
    return;
  }
  const batch = tunnel.socket.controlBatch;
  const marker = tunnel.spec.esp?.udp != null ? writeNonEspMarker(batch.data, 0) : 0;
  batch.offsets[0] = 0;
  batch.lengths[0] = marker + write(batch.data, marker);
  transmitControl(tunnel, batch);
}

/** The hello framing of a tunnel: gue's own, else GRE type 0 (fou, and ESP in UDP after the marker). */
export function helloFramingOf(tunnel: Tunnel): { encap: 'fou' | 'gue'; greKey: number | null } {
  return { encap: tunnel.spec.encap === 'gue' ? 'gue' : 'fou', greKey: tunnel.spec.key };
}

function sealControl(tunnel: Tunnel, batch: PacketBatchMemory, length: number, nextHeader: number): boolean {
  const sas = tunnel.sas;
  if (sas.outbound === null || length + CONTROL_HEADROOM > batch.slotSize) {
    tunnel.counters.txDrop('no-sa');
    return false;
  }
  batch.data.copyWithin(CONTROL_HEADROOM, 0, length);
  batch.offsets[0] = CONTROL_HEADROOM;
  controlResults.nextHeaders[0] = nextHeader;
  // A refusal (sequence numbers exhausted, no room) is counted by the SA and absorbed as a drop.
  return sas.seal(batch, 1, controlResults) === 1;
}

function transmitControl(tunnel: Tunnel, batch: PacketBatchMemory): void {
  setDestination(tunnel.socket, batch, 0, tunnel.remoteAddress, tunnel.remotePort);
  try {
    if (tunnel.socket.endpoint.writeBatch(batch, 1) !== 1) tunnel.counters.txDrop('queue-full');
  } catch {
    tunnel.counters.txDrop('io-error');
  }
}

/** Points slot i of a batch for `socket` at an outer key and port (addrs on IPv4, addrs6 on IPv6). */
export function setDestination(socket: TunnelSocket, batch: PacketBatchMemory, i: number, remote: number, port: number): void {
  if (socket.family === 6) {
    batch.addrs6.set(ipv6KeyBytes(remote), i * 16);
    batch.addrs[i] = 0;
  } else {
    batch.addrs[i] = remote;
  }
  batch.ports[i] = port;
}
