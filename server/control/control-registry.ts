import type { TunnelError } from '../../shared/errors.js';
import type { Encapsulation } from '../../shared/net/encapsulation.js';
import type { LinkAead, SaEpochRecord } from '../registry/link-sa-epoch-store.js';
import type { LinkTable } from '../registry/link-table.js';
import type { EncryptSetting } from '../registry/peer-encryption-store.js';
import type { RouteRequestOutcome } from '../registry/peer-routing-store.js';
import type { MemberRoutingRecord } from '../routing/member-route-specs.js';
import type { RoutingFacts } from '../routing/member-routes.js';
import type { EspPath, MessageOf, WireLinkPath, WireLinkTable, WireTunnelSpec } from '../../shared/protocol/index.js';

/** A peer's side of its config: every tunnel it runs and each link's table. */
export interface PeerConfigBody {
  tunnels: WireTunnelSpec[];
  links: WireLinkTable[];
  /** Per link: encapsulation and why. */
  paths: WireLinkPath[];
  /** The prefixes behind the peer and their state. */
  advertised?: RouteRequestOutcome[];
  /** In a cluster: the hub serving the peer and every hub it may move to. */
  cluster?: ClusterView;
}

/** The cluster as a member is told it: which hub serves it and which it may move to. */
export type ClusterView = NonNullable<MessageOf<'config'>['cluster']>;

/** Versions after issuing specs: a version grows only when its spec changed. */
export interface IssuedVersions {
  hubVersion: number;
  hubChanged: boolean;
  peerVersion: number;
  peerChanged: boolean;
}

/** A registered peer as a reconfiguration sees it. */
export interface PeerStanding {
  /** The ERR_TOKEN_REVOKED refusal of a peer `peer revoke` cut off, or undefined. */
  revocation: TunnelError | undefined;
  /** The encapsulation the operator pinned for the peer, or null for automatic. */
  pinnedEncap: Encapsulation | null;
  /** `peer set NAME --encrypt on|off`, or null for the hub's default. */
  encrypt: EncryptSetting;
}

/** How a link uses its GRE key: what its table needs when its encapsulation changes (linkEncapFields). */
export interface LinkKeying {
  greKey: number;
  /** GRE without the key (`peer add|set --no-key`). */
  keyless: boolean;
}

/** A peer's hub<->peer link: its id (the binding id of its authenticated UDP path) and its table (hub first). */
export interface HubLinkFacts extends LinkKeying {
  id: number;
  table: LinkTable;
}

/** One peer<->peer link as seen from one of its ends. */
export interface PeerLinkFacts extends LinkKeying {
  linkId: number;
  /** The other end's peer name. */
  other: string;
  /** The other end's `--encrypt` setting (null: the default). */
  otherEncrypt: EncryptSetting;
  /** The link's table (its first end has the lower address). */
  table: LinkTable;
  /** `shortcut`: made by the hub for a busy pair; absent or `operator`: made with `link add`. */
  kind?: 'operator' | 'shortcut';
  /** Why the hub made a shortcut (`rate 3.2 Mbit/s`). */
  why?: string;
  /** A shortcut's other end's address on its hub link: routed through the shortcut too. */
  otherHubAddress?: string;
}

/** The registry as the control plane uses it (implemented over server/registry by the hub); every call is asynchronous. */
export interface ControlRegistry {
  /** The hub's public address, the `local` of every hub end. */
  hubEndpoint(): Promise<string>;
  /**
   * Stores new specs for both ends in one transaction, bumping each version only if it changed,
   * and keeps the address the peer reported (a claim, never a tunnel target) beside them. `seen`
   * (when the peer acted): the address its authenticated connection comes from (verified), recorded
   * in its endpoint history in the same transaction.
   */
  issueSpecs(peer: string, hubLinkId: number, hubEnd: WireTunnelSpec, peerConfig: PeerConfigBody, reported: string | null, seen: string | null): Promise<IssuedVersions>;
  /** The hub's datapath now runs this version of its end of hub link `hubLinkId`. */
  recordHubApplied(hubLinkId: number, version: number): Promise<void>;
  /** The peer acknowledged this version of its config. */
  recordPeerAck(peer: string, version: number): Promise<void>;
  /** The encapsulation the operator pinned for the peer, or null for automatic. */
  pinnedEncap(peer: string): Promise<Encapsulation | null>;
  /** The peer's own row as a reconfiguration needs it (one read), or undefined when it was removed. */
  peerStanding(peer: string): Promise<PeerStanding | undefined>;
  /** The peer's hub<->peer link and its peer<->peer links, with their tables from one read. */
  linksOf(peer: string): Promise<{ hubLink: HubLinkFacts; peerLinks: PeerLinkFacts[] }>;
  /**
   * Records the hub's automatic choice for a link, hub link or peer<->peer link (beneath any pin),
   * with how it carries ESP when encrypted; true when it changed.
   */
  recordLinkPath(linkId: number, encap: Encapsulation, reason: string, esp?: EspPath): Promise<boolean>;
  /** The last address the hub verified for the peer, or null when never seen. */
  latestEndpoint(peer: string): Promise<string | null>;
  /** Pools and approved prefixes behind members: what every member's routes are computed from. */
  routingFacts(): Promise<RoutingFacts>;
  /** One member's source check and prefixes. */
  memberRouting(peer: string): Promise<MemberRoutingRecord>;
  /** Records that this hub serves the peer's session now (a hub of a cluster; no-op for a hub alone). */
  claimSession(peer: string): Promise<void>;
  /** The other hub of the cluster that serves the peer now, or null when it is this hub (or none). */
  servedElsewhere(peer: string): Promise<string | null>;
  /** The hubs a member of this cluster may be served by, or undefined for a hub alone. */
  clusterView(): Promise<ClusterView | undefined>;
  /** A member's `--advertise` list: records new requests, withdraws dropped pending ones, says what became of each. */
  recordRouteRequests(peer: string, prefixes: readonly string[]): Promise<RouteRequestOutcome[]>;
  /** The cluster's ESP master key, base64url, made by the first hub that asks (read once per process). */
  espMasterKey(): Promise<string>;
  /** The newest SA epoch of each of these links that has one (one read). */
  latestSaEpochs(linkIds: readonly number[]): Promise<Map<number, SaEpochRecord>>;
  /** Makes the next SA epoch of a link. */
  startSaEpoch(linkId: number, aead: LinkAead, reason: string): Promise<SaEpochRecord>;
}
