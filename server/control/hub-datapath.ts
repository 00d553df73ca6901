import type { WireTunnelSpec } from '../../shared/protocol/index.js';

/** Traffic counters of one tunnel, in the shape `status --json` prints. */
export interface TunnelTraffic {
  rx: { packets: number; bytes: number; errors: number; dropped: number };
  tx: { packets: number; bytes: number; errors: number; dropped: number };
  /** Of those, the packets the native fast path moved without JS (absent when it is off). */
  fastPath?: { rxPackets: number; txPackets: number };
  /** The hub's interface the tunnel's packets use when it is not the tunnel's own: the shared member device (serve --member-devices shared). */
  device?: string;
}

/** A hub end's binding as status shows it: bound to a verified address:port, or unbound (expired or never). */
export interface HubBindingStatus {
  state: string;
  address: string | null;
  port: number | null;
  boundAt: string | null;
  lastHelloAt: string | null;
  helloInterval: number;
  bindingTimeout: number;
}

/** ESP's drop reasons, the ones status and /metrics show beside a tunnel's SAs. */
export const ESP_DROP_REASONS = ['rx:auth', 'rx:replay', 'rx:no-sa', 'tx:no-sa', 'rx:cleartext'] as const;

/** ESP on a running tunnel as status shows it: never a key. */
export interface TunnelEncryptionStatus {
  encrypted: boolean;
  aead: 'aes-gcm' | 'chacha20-poly1305' | null;
  /** The SPIs it opens, newest first (two around a rekey). */
  spiIn: number[];
  /** The SPI it seals with, or null while it has none (every packet is then dropped, `tx:no-sa`). */
  spiOut: number | null;
  /** Seconds since its outbound SA was installed. */
  saAgeSeconds: number | null;
  /** ESP's drop counters: `rx:auth`, `rx:replay`, `rx:no-sa`, `tx:no-sa`, and `rx:cleartext`. */
  dropsByReason: Record<string, number>;
}

/** A tunnel's liveness as its keepalives tell it. */
export interface TunnelLivenessStatus {
  /** `down` until the remote answers, and again after keepaliveRetries intervals unanswered. */
  state: 'up' | 'down';
  /** False when the tunnel sends no keepalives (interval 0, ipip): its state then reads up. */
  tracked: boolean;
  /** When (ms) the remote was last heard, or null if never (or not known). */
  lastHeardAt: number | null;
}

/**
 * The hub's own tunnel ends as the control plane drives them. The real implementation wraps the
 * datapath engine (TUN devices, needs root); integration tests and the load benchmark use one
 * that only remembers specs.
 */
export interface HubDatapath {
  /** Creates the tunnel to `peer`, or changes the running one in place (same TUN) to match `spec`. */
  upsert(spec: WireTunnelSpec, peer: string): Promise<void>;
  /** The counters of a running tunnel, or undefined when it does not exist. */
  traffic(name: string): TunnelTraffic | undefined;
  /**
   * Reads every running tunnel's status at once (their fast routes' counters in one native call)
   * for the lookups of this turn of the event loop: a report over every peer calls it first.
   */
  readAllStatuses?(): void;
  /**
   * The authenticated UDP binding of a hub end (the member's NAT mapping it sends to), or
   * undefined for a tunnel without one.
   */
  binding?(name: string): HubBindingStatus | undefined;
  /** A running tunnel's liveness, or undefined when it does not exist. */
  liveness?(name: string): TunnelLivenessStatus | undefined;
  /**
   * When a running tunnel last heard its remote, while its keepalives still prove it alive (none
   * missed since); null otherwise. A cheap read, for every path-proven session's turn.
   */
  pathHeardAt?(name: string): number | null;
  /**
   * Calls `quiet` with a member's name when its running tunnel stops hearing it (pathHeardAt turns
   * null), with when it last did: a path-proven session reads pathHeardAt only at its slow turns.
   */
  onPathQuiet?(quiet: (peer: string, lastHeardAt: number | null) => void): void;
  /** Removes one tunnel (its peer was removed or revoked); a tunnel that does not run is fine. */
  remove(name: string): Promise<void>;
  /**
   * Makes `prefixes` (the pools and every routed prefix) answer as unreachable whenever no member
   * tunnel carries them, so nothing for the mesh leaks out of the hub's default route.
   */
  routeUnreachable?(prefixes: readonly string[]): Promise<void>;
  /** The prefixes the hub routes through a tunnel (none when it does not run). */
  routes?(name: string): string[];
  /**
   * The bytes each tunnel received toward each inner destination since the last call (a few
   * busiest at most per tunnel), by tunnel name, for the tunnels that received any: how the hub
   * finds member pairs worth a shortcut. Quiet tunnels cost nothing here.
   */
  drainBusyDestinations?(): ReadonlyMap<string, { address: string; bytes: number }[]>;
  /** Inner packets dropped on a tunnel for a source outside its member's (BCP 38), or undefined. */
  spoofed?(name: string): number | undefined;
  /** ESP on a running tunnel (SPIs, AEAD, SA age, drops), or undefined when it does not run. */
  encryption?(name: string): TunnelEncryptionStatus | undefined;
  /**
   * Calls `due` with a tunnel's name when its outbound ESP SA passes the sequence number a rekey
   * is due at (the engine's onRekeyDue); a datapath without ESP never calls it.
   */
  onRekeyDue?(due: (tunnel: string) => void): void;
  /** Removes every tunnel. */
  close(): Promise<void>;
}
