import type { WireTunnelSpec } from '../../shared/protocol/index.js';

/** The client's tunnels as the session drives them; the real one wraps the datapath engine. */
export interface ClientDatapath {
  /** Converges the running tunnels to exactly `tunnels`: adds, updates in place, removes. */
  apply(tunnels: readonly WireTunnelSpec[]): Promise<void>;
  /** Removes every tunnel this datapath created. */
  close(): Promise<void>;
}
