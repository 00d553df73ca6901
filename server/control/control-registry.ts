import type { LinkTable } from '../registry/link-table.js';
import type { WireLinkTable, WireTunnelSpec } from '../../shared/protocol/index.js';

/** A peer's side of its config: every tunnel it runs and each link's table. */
export interface PeerConfigBody {
  tunnels: WireTunnelSpec[];
  links: WireLinkTable[];
}

/** Versions after issuing specs: a version grows only when its spec changed. */
export interface IssuedVersions {
  hubVersion: number;
  hubChanged: boolean;
  peerVersion: number;
  peerChanged: boolean;
}

/** Issued and confirmed spec versions of both ends of a peer's hub link. */
export interface SpecVersions {
  hub: { issued: number; applied: number; appliedAt: number | null };
  peer: { issued: number; acked: number; ackedAt: number | null };
}

/** The registry as the control plane uses it (implemented over server/registry by the hub). */
export interface ControlRegistry {
  /** The hub's public address, the `local` of every hub end. */
  hubEndpoint(): string;
  /** The table of the hub<->peer link (hub first), or undefined when the peer has none. */
  hubLinkTable(peer: string): LinkTable | undefined;
  /** Records the address the peer's authenticated connection comes from (verified) in its history. */
  recordEndpoint(peer: string, seen: string): void;
  /**
   * Stores new specs for both ends in one transaction, bumping each version only if it changed,
   * and keeps the address the peer reported (a claim, never a tunnel target) beside them.
   */
  issueSpecs(peer: string, hubEnd: WireTunnelSpec, peerConfig: PeerConfigBody, reported: string | null): IssuedVersions;
  /** The hub's datapath now runs this version of its end. */
  recordHubApplied(peer: string, version: number): void;
  /** The peer acknowledged this version of its config. */
  recordPeerAck(peer: string, version: number): void;
  /** Spec versions of both ends, for status. */
  specVersions(peer: string): SpecVersions | undefined;
}
