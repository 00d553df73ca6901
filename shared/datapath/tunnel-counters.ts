import type { DecodeErrorReason } from '../wire/decode-error.js';

/** Why the engine dropped a packet; decode reasons come straight from the shared/wire decoders. */
export type DropReason =
  | DecodeErrorReason
  /** No tunnel matches the outer source (and key or port). */
  | 'no-tunnel'
  /** A UDP packet from a tunnel's remote address but not its remote port. */
  | 'wrong-source-port'
  /** The inner packet is neither IPv4 nor IPv6, or shorter than its own header. */
  | 'bad-inner'
  /** The encapsulation cannot carry this inner protocol (IPv6 over ipip). */
  | 'unsupported-inner'
  /** Larger than the tunnel MTU with DF set (IPv4) or any IPv6: answered with ICMP. */
  | 'too-big'
  /** The kernel took fewer packets than offered (socket or TUN queue full). */
  | 'queue-full'
  /** A system call failed outright. */
  | 'io-error'
  /** An unexpected exception in the per-packet path (a bug), caught so the process keeps serving. */
  | 'internal'
  /** rx: UDP from an address:port no hello has bound (hub role); never used to re-aim a tunnel. */
  | 'unbound-source'
  /** tx: a hub-role tunnel has no verified address:port to send to (no hello yet, or expired). */
  | 'unbound'
  /** A hello frame whose body is truncated or malformed. */
  | 'hello-malformed'
  /** An ack at a hub, or a hello at a member: not this end's to take. */
  | 'hello-unexpected'
  /** A hello naming a binding id no tunnel on the socket has. */
  | 'hello-unknown-binding'
  /** A hello framed for another encapsulation or GRE key than its tunnel's. */
  | 'hello-wrong-encap'
  /** A hello whose MAC does not verify with the tunnel's session key (forged, or another session's). */
  | 'hello-bad-mac'
  /** A correctly signed hello whose counter is not above the last accepted one (replayed). */
  | 'hello-replay'
  /** A verified hello from an address:port a static tunnel already receives from. */
  | 'hello-address-taken'
  /** An inner packet whose source the tunnel's `sources` do not cover (BCP 38): never delivered. */
  | 'spoofed'
  /** ESP, rx: no inbound SA has the packet's SPI; tx: no usable outbound SA (none yet, or its sequence numbers ran out). */
  | 'no-sa'
  /** ESP: the ICV did not verify (tampered, forged, another key). */
  | 'auth'
  /** ESP: authentic, but its sequence number was seen already or is below the replay window. */
  | 'replay'
  /** ESP: too short for ESP, or an authentic packet whose pad length runs past its payload. */
  | 'esp-malformed'
  /** Cleartext GRE or IPIP from the remote of an encrypted tunnel: never delivered. */
  | 'cleartext';

/** One direction's totals, the `ip -s link` columns. */
export interface DirectionStats {
  packets: number;
  bytes: number;
  errors: number;
  dropped: number;
}

/** A point-in-time copy of a tunnel's counters. */
export interface CountersSnapshot {
  rx: DirectionStats;
  tx: DirectionStats;
  dropsByReason: Record<string, number>;
}

/** Reasons that mean the packet itself was malformed (an error), as opposed to refused (a drop). */
const ERROR_REASONS: ReadonlySet<DropReason> = new Set<DropReason>([
  'truncated', 'bad-version', 'bad-header-length', 'bad-total-length', 'bad-checksum', 'reserved-bits',
  'fragmented', 'bad-flags', 'not-keepalive', 'not-hello', 'hello-malformed', 'bad-inner', 'wrong-source-port', 'io-error', 'internal', 'esp-malformed',
]);

/**
 * Per-tunnel packet counters. Plain numeric fields so the hot loop increments them without a
 * lookup; the reason map is touched only on drops.
 */
export class TunnelCounters {
  rxPackets = 0;
  rxBytes = 0;
  rxErrors = 0;
  rxDropped = 0;
  txPackets = 0;
  txBytes = 0;
  txErrors = 0;
  txDropped = 0;
  private readonly reasons = new Map<string, number>();

  /** Counts `count` received packets lost for `reason` (an error or a drop, by the reason's kind). */
  rxDrop(reason: DropReason, count = 1): void {
    if (ERROR_REASONS.has(reason)) this.rxErrors += count;
    else this.rxDropped += count;
    this.bump(`rx:${reason}`, count);
  }

  /** Counts `count` packets from the TUN that were not sent, for `reason`. */
  txDrop(reason: DropReason, count = 1): void {
    if (ERROR_REASONS.has(reason)) this.txErrors += count;
    else this.txDropped += count;
    this.bump(`tx:${reason}`, count);
  }

  /** A copy of every counter. */
  snapshot(): CountersSnapshot {
    return {
      rx: { packets: this.rxPackets, bytes: this.rxBytes, errors: this.rxErrors, dropped: this.rxDropped },
      tx: { packets: this.txPackets, bytes: this.txBytes, errors: this.txErrors, dropped: this.txDropped },
      dropsByReason: Object.fromEntries(this.reasons),
    };
  }

  private bump(key: string, count: number): void {
    this.reasons.set(key, (this.reasons.get(key) ?? 0) + count);
  }
}
