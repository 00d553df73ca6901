import type { WireLinkPath, WireLinkTable, WireTunnelSpec } from '../../shared/protocol/index.js';

/** The client's tunnels as the session drives them; the real one wraps the datapath engine. */
export interface ClientDatapath {
  /**
   * Converges the running tunnels to exactly `tunnels`: adds, updates in place, removes. `paths`
   * says per link which encapsulation the hub chose and why (shown by `tunnel-client status`);
   * `links` are the link tables, which name each tunnel's other end.
   */
  apply(tunnels: readonly WireTunnelSpec[], paths?: readonly WireLinkPath[], links?: readonly WireLinkTable[]): Promise<void>;
  /**
   * Probes a running tunnel's path: resolves true when the other end answers (a keepalive echo,
   * or the hub's hello-ack on an authenticated UDP path) within `timeoutMs`.
   */
  probe?(name: string, timeoutMs: number): Promise<boolean>;
  /** Calls `due` with a tunnel's name when its outbound ESP SA passes the sequence a rekey is due at. */
  onRekeyDue?(due: (name: string) => void): void;
  /** A running tunnel's liveness and inner byte counters (what `link-report` says of a shortcut), or undefined. */
  linkState?(name: string): { state: 'up' | 'down'; rxBytes: number; txBytes: number } | undefined;
  /** When a running tunnel last heard its remote, while its keepalives still prove it alive (none missed since); null otherwise. */
  pathHeardAt?(name: string): number | null;
  /** Calls `listener` with a tunnel's name whenever its liveness changes. */
  onLivenessChange?(listener: (name: string) => void): void;
  /** Removes every tunnel this datapath created. */
  close(): Promise<void>;
}
