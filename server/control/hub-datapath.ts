import type { WireTunnelSpec } from '../../shared/protocol/index.js';

/** Traffic counters of one tunnel, in the shape `status --json` prints. */
export interface TunnelTraffic {
  rx: { packets: number; bytes: number; errors: number; dropped: number };
  tx: { packets: number; bytes: number; errors: number; dropped: number };
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

/**
 * The hub's own tunnel ends as the control plane drives them. The real implementation wraps the
 * datapath engine (TUN devices, needs root); integration tests and the load benchmark use one
 * that only remembers specs.
 */
export interface HubDatapath {
  /** Creates the tunnel, or changes the running one in place (same TUN) to match `spec`. */
  upsert(spec: WireTunnelSpec): Promise<void>;
  /** The counters of a running tunnel, or undefined when it does not exist. */
  traffic(name: string): TunnelTraffic | undefined;
  /**
   * The authenticated UDP binding of a hub end (the member's NAT mapping it sends to), or
   * undefined for a tunnel without one.
   */
  binding?(name: string): HubBindingStatus | undefined;
  /** Removes one tunnel (its peer was removed or revoked); a tunnel that does not run is fine. */
  remove(name: string): Promise<void>;
  /** Removes every tunnel. */
  close(): Promise<void>;
}
