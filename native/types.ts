/**
 * The contract between the native addon (native/index.ts) and the datapath engine.
 * The addon only does system calls; the engine owns protocol, queues and backpressure.
 */
import type { EspInbound, EspSecurityAssociation } from './esp.js';

/**
 * Preallocated memory for a batch of packets: `capacity` slots of `slotSize` bytes in one Buffer.
 * Slot i's packet lives at data[i * slotSize + offsets[i]], `lengths[i]` bytes long. For sockets,
 * the peer is addrs[i] on an IPv4 socket (an unsigned 32-bit number, a.b.c.d =
 * a<<24|b<<16|c<<8|d) or addrs6[16 * i .. 16 * i + 15] on an IPv6 one, and ports[i] the UDP peer
 * port: filled on read (source), used on write (destination).
 */
export interface PacketBatchMemory {
  readonly capacity: number;
  readonly slotSize: number;
  readonly data: Buffer;
  readonly offsets: Uint32Array;
  readonly lengths: Uint32Array;
  readonly addrs: Uint32Array;
  readonly ports: Uint16Array;
  readonly addrs6: Uint8Array;
}

/** Something packets can be read from and written to, many per call, without blocking. */
export interface PacketEndpoint {
  /**
   * Reads up to batch.capacity packets; each lands in its slot at offset `headroom` (room for an
   * outer header to be prepended without a copy). Returns how many were read; 0 when none wait.
   */
  readBatch(batch: PacketBatchMemory, headroom?: number): number;
  /** Writes slots [0, count). Returns how many were accepted (fewer when the kernel is full). */
  writeBatch(batch: PacketBatchMemory, count: number): number;
  /** Calls `onReadable` whenever the descriptor becomes readable (uv_poll). Replaces any earlier callback; `null` stops them. */
  onReadable(onReadable: (() => void) | null): void;
  /** Stops readiness callbacks and closes the descriptor. Idempotent; later I/O throws ERR_CLOSED. */
  close(): void;
  readonly closed: boolean;
}

/**
 * Where and how a tunnel's common packets move without JS (see native/src/fast-route.h). The
 * header templates are the exact bytes the engine would put in front of an inner IPv4 / IPv6
 * packet; received payloads that start with them (from the remote, after its outer header) go
 * straight to the TUN. Everything else still reaches the endpoints' readers in JS.
 */
export interface FastRouteConfig {
  tun: PacketEndpoint;
  /** The outer socket to send through and receive from; null parks the route. */
  outer: PacketEndpoint | null;
  /** Send eligible TUN packets natively (false: every TUN packet goes to JS). */
  transmit: boolean;
  /** Take matching packets from the remote natively (false: all go to JS). */
  receive: boolean;
  /**
   * The remote's outer address (a.b.c.d as an unsigned 32-bit number) and UDP port (0 on raw
   * sockets); on an IPv6 outer socket the address is remoteAddress6 (16 bytes) instead.
   */
  remoteAddress: number;
  remoteAddress6?: Uint8Array | null;
  remotePort: number;
  header4: Uint8Array | null;
  header6: Uint8Array | null;
  /**
   * When set, the route carries Ethernet frames of a TAP (gretap): this header goes in front of
   * every frame and received payloads that start with it are frames for the TAP; header4/header6
   * are then not used.
   */
  headerEthernet?: Uint8Array | null;
  /** Larger IPv4 packets with DF, and larger IPv6 packets, go to JS (which answers with ICMP). */
  mtu: number;
  /** TCP SYNs go to JS, which clamps their MSS. */
  clampMss: boolean;
  /** Send through JS while nothing was received natively for this long (0: never). */
  quietLimitMs: number;
  /**
   * Inner sources to take natively (null: any): v4 holds (network, mask) pairs, v6 32-byte
   * entries of network then mask. A packet from another source goes to JS; IPv6 link-local and
   * unspecified sources always pass.
   */
  sources: { v4: Uint32Array; v6: Uint8Array } | null;
  /**
   * The TUN is shared with other routes (a hub's members without a device of their own): this
   * route sends only the TUN's packets whose inner destination falls in `destinations` (same
   * shape as `sources`), the longest prefix of every shared route on the TUN deciding; the rest
   * go to JS.
   */
  shared?: boolean;
  destinations?: { v4: Uint32Array; v6: Uint8Array } | null;
  /**
   * An encrypted tunnel (null: cleartext): every packet sent is sealed with `out` (null: none is
   * sent natively; JS drops them), and only ESP from the remote that opens with `in` and carries
   * one of the templates is taken (next header `nextHeader4` / `nextHeader6` for what it carries).
   * The SAs are shared with JS, which seals control packets and opens what the route leaves.
   */
  esp?: { out: EspSecurityAssociation | null; in: EspInbound; nextHeader4: number; nextHeader6: number } | null;
  /**
   * Count the bytes of received inner packets per destination address in a small table of fixed
   * size (a hub's member tunnels: member pairs worth a shortcut); read with drainDestinations().
   */
  tallyDestinations?: boolean;
}

/** Bytes a route received toward one inner destination since the last drain (at most what was really sent). */
export interface DestinationBytes {
  /** The inner destination, IPv4 dotted or IPv6 in RFC 5952 form. */
  address: string;
  bytes: number;
}

/** What a fast route moved since it was made. */
export interface FastRouteCounters {
  rxPackets: number;
  rxBytes: number;
  txPackets: number;
  txBytes: number;
  rxQueueFull: number;
  txQueueFull: number;
  rxErrors: number;
  txErrors: number;
  /** Milliseconds since the route last received a packet, or null if it never has. */
  msSinceReceive: number | null;
}

/** A tunnel's fast route: configure() replaces its whole configuration at once. */
export interface FastRoute {
  configure(config: FastRouteConfig): void;
  counters(): FastRouteCounters;
  /** The inner destinations counted since the last call (tallyDestinations), and a fresh table. */
  drainDestinations?(): DestinationBytes[];
  /** Stops forwarding and releases both endpoints. Idempotent. */
  close(): void;
}
