import { TunnelError } from '../../shared/errors.js';
import type { Encapsulation } from '../../shared/net/encapsulation.js';
import { tunnelInterfaceName } from '../../shared/net/tunnel-interface-name.js';
import type { EspPath, WireLinkPath, WireTunnelSpec } from '../../shared/protocol/index.js';
import { linkEncapFields, type LinkTable } from '../registry/link-table.js';
import type { RouteRequestOutcome } from '../registry/peer-routing-store.js';
import { memberRouteSpecs, type MemberRoutingRecord, type RoutingMode } from '../routing/member-route-specs.js';
import type { RoutingFacts } from '../routing/member-routes.js';
import { chooseEncapsulation, type EncapChoice, type ProbeResults } from './choose-encapsulation.js';
import type { ClusterView, HubLinkFacts, LinkKeying, PeerConfigBody, PeerLinkFacts, PeerStanding } from './control-registry.js';
import { buildHubLinkSpecs } from './hub-link-specs.js';
import { endEspOf, type LinkSaKeying } from './link-end-esp.js';
import { refuseInsecureChannel } from './link-encryption.js';
import { buildPeerLinkEnd, choosePeerLinkPath, type PeerEndFacts } from './peer-link-specs.js';
import { redactBindingKey } from './redact-binding-keys.js';

/** Hub-wide settings every plan follows. */
export interface PlanSettings {
  routing: RoutingMode;
  /** Seconds between path keepalives on both ends of every link. */
  keepaliveInterval: number;
  /** The hub's stable id: gretap MAC addresses derive from it. */
  hubId: string;
}

/** The path of a link as recorded, `encap reason` with ` esp-raw` or ` esp-udp` on an encrypted link. */
export function pathText(encap: Encapsulation, reason: string, esp: EspPath | undefined): string {
  return esp === undefined ? `${encap} ${reason}` : `${encap} ${reason} esp-${esp}`;
}

/** The peer as this hub holds it when a reconfiguration starts. */
export interface PeerSnapshot {
  name: string;
  /** The verified address (control connection or shell report); the hub aims only here. */
  seen: string;
  reported: string | null;
  probes: ProbeResults;
  /** The hub link's path as this process last recorded it (null: not yet). */
  encap: Encapsulation | null;
  encapReason: string | null;
  /** How that path carried ESP (null: in the clear, or not recorded yet). */
  esp: EspPath | null;
  /**
   * The peer's control channel is encrypted itself (wss:// or SSH; a shell report came over SSH):
   * only then may SAs travel on it.
   */
  channelEncrypted: boolean;
  /** The open session's key, base64url (the hub link's UDP binding key); undefined without a session. */
  sessionKey: string | undefined;
  /** Prefixes the peer advertised that the hub refused. */
  routeRefusals: readonly RouteRequestOutcome[];
}

/** One peer<->peer link with what the plan needs about its two ends. */
export interface GatheredPeerLink extends PeerLinkFacts {
  /** Both ends as the hub knows them (live state, else the last verified address), in table order. */
  ends: readonly [PeerEndFacts, PeerEndFacts];
  /** The first end's pin, else the second's, else null. */
  pinned: Encapsulation | null;
  /** The key both ends' UDP hellos are authenticated with (made by this hub, never stored). */
  key: string;
  /** The path this process last recorded for the link (pathText), or undefined. */
  recordedPath: string | undefined;
  /** The link's keys when it is encrypted (both ends encrypt), else undefined. */
  keying: LinkSaKeying | undefined;
  /** False while the link's routes stay out (a shortcut not verified yet); absent: true. */
  routed?: boolean;
}

/** What a staying peer's links and specs are built from. */
export interface LinkFacts {
  hubLink: HubLinkFacts;
  /** Both ends of the hub link encrypt (link-encryption.ts). */
  hubLinkEncrypted: boolean;
  /** The hub link's keys when it is encrypted (and its member's channel may carry them), else undefined. */
  hubLinkKeying: LinkSaKeying | undefined;
  /** The hub's address on the hub link's family (its endpoint or its IPv6 endpoint); null: it has none for IPv6. */
  hubLocal: string | null;
  peerLinks: readonly GatheredPeerLink[];
  memberRouting: MemberRoutingRecord;
  routingFacts: RoutingFacts;
  cluster: ClusterView | undefined;
}

/** Everything a reconfiguration decides from, read from the registry in one gather step. */
export interface PeerFacts {
  /** The peer's row, or undefined once it was removed. */
  standing: PeerStanding | undefined;
  /** The other hub of the cluster that serves the peer now, or null. */
  servedElsewhere: string | null;
  /** Read only for a peer this hub goes on serving (see retirementOf); undefined otherwise. */
  links: LinkFacts | undefined;
}

/** This hub stops serving the peer: its session is closed and the hub's end comes down. */
export interface PeerRetirement {
  kind: 'retire';
  why: 'removed' | 'revoked' | 'served-elsewhere';
  /** What the session is closed with. */
  error: TunnelError;
  /** Whether the peer's live state goes too (removed, moved); a revoked peer's stays for status. */
  forget: boolean;
  /** The hub serving the member now, or null. */
  movedTo: string | null;
}

/** A path to record for one link (beneath any pin). */
export interface LinkPathChange {
  linkId: number;
  encap: Encapsulation;
  reason: string;
  /** How an encrypted link carries its ESP; absent in the clear. */
  esp?: EspPath;
}

/** What to apply for a peer this hub goes on serving. */
export interface PeerConfiguration {
  kind: 'configure';
  hubLinkId: number;
  /** The hub link's encapsulation and why. */
  choice: EncapChoice;
  /** The hub link's path to record, or undefined when this process recorded the same one already. */
  hubLinkPath: LinkPathChange | undefined;
  /** Peer<->peer link paths this process has not recorded yet, each with its `encap reason` text. */
  peerLinkPaths: (LinkPathChange & { decided: string })[];
  /** The hub's end as the datapath runs it (with its binding key). */
  hubEnd: WireTunnelSpec;
  /** The peer's config as it is pushed (with its binding keys). */
  config: PeerConfigBody;
  /** Both as the registry keeps them: each binding key replaced by a digest, so no key is at rest. */
  stored: { hubEnd: WireTunnelSpec; config: PeerConfigBody };
  /** The members linked to this one: they aim at its endpoint. */
  linked: string[];
}

/** A plan: configure the peer, or retire it. */
export type PeerPlan = PeerConfiguration | PeerRetirement;

/** Why this hub stops serving the peer (removed, revoked, served by another hub), or undefined when it goes on. */
export function retirementOf(peer: string, facts: Pick<PeerFacts, 'standing' | 'servedElsewhere'>): PeerRetirement | undefined {
  if (!facts.standing) {
    return { kind: 'retire', why: 'removed', error: new TunnelError('ERR_PEER_NOT_FOUND', `peer "${peer}" was removed from the registry`), forget: true, movedTo: null };
  }
  if (facts.standing.revocation) return { kind: 'retire', why: 'revoked', error: facts.standing.revocation, forget: false, movedTo: null };
  if (facts.servedElsewhere === null) return undefined;
  // The member moved to another hub of the cluster: its end there replaces this one.
  return {
    kind: 'retire', why: 'served-elsewhere', forget: true, movedTo: facts.servedElsewhere,
    error: new TunnelError('ERR_CLOSED', `the member's session moved to hub ${facts.servedElsewhere}`),
  };
}

/**
 * Decides everything one peer runs, from plain data: the hub link (encapsulation from the pin, the
 * NAT check and the probes), each peer<->peer link, the routes, and which paths to record. A link
 * whose path is recorded anew gets the table that path gives (the registry's pins still win, so
 * the table agrees with what the registry prints). An encrypted link (its keys in the facts) runs
 * GRE in ESP, raw or in UDP, and each end's spec carries its SAs. Throws ERR_INVALID_ADDRESS for a
 * member seen over IPv6 by a hub with no IPv6 endpoint, and ERR_INSECURE_CHANNEL for a member whose
 * hub link is encrypted but whose control channel is not.
 */
export function planPeer(peer: PeerSnapshot, facts: PeerFacts, settings: PlanSettings): PeerPlan {
  const retirement = retirementOf(peer.name, facts);
  if (retirement) return retirement;
  const { standing, links } = facts;
  if (!standing || !links) throw new TunnelError('ERR_INTERNAL', `the links of ${peer.name} were not read`);
  if (links.hubLocal === null) {
    throw new TunnelError('ERR_INVALID_ADDRESS', `${peer.name} connected over IPv6, but this hub has no IPv6 endpoint for tunnels (serve --endpoint6 ADDR): connect over IPv4`);
  }
  const { hubLink, hubLinkKeying } = links;
  if (links.hubLinkEncrypted) {
    if (peer.sessionKey !== undefined) refuseInsecureChannel(peer.name, peer.channelEncrypted);
    if (!hubLinkKeying) throw new TunnelError('ERR_INTERNAL', `the keys of ${peer.name}'s hub link were not made`);
  }
  const choice = chooseEncapsulation({
    pinned: standing.pinnedEncap, seen: peer.seen, reported: peer.reported, probes: peer.probes, encrypted: hubLinkKeying !== undefined,
  });
  // A reconciliation that changes nothing writes nothing (commands refused meanwhile must find the
  // registry as it was, and a thousand members cost no thousand writes).
  const hubPathChanged = peer.encap !== choice.encap || peer.encapReason !== choice.reason || peer.esp !== (choice.esp ?? null);
  const hubTable = hubPathChanged ? withEncap(hubLink.table, hubLink, choice.encap, choice.esp) : hubLink.table;
  const hubPath = hubTable.esp;
  const specs = buildHubLinkSpecs(peer.name, hubTable, {
    hub: links.hubLocal, seen: peer.seen, reported: peer.reported, keepaliveInterval: settings.keepaliveInterval, hubId: settings.hubId,
    ...(peer.sessionKey !== undefined ? { binding: { bindingId: hubLink.id, key: peer.sessionKey } } : {}),
    ...(hubLinkKeying && hubPath ? { esp: { hubEnd: endEspOf(hubLinkKeying, 'first', hubPath), peerEnd: endEspOf(hubLinkKeying, 'second', hubPath) } } : {}),
  });
  const peerLinkPaths: PeerConfiguration['peerLinkPaths'] = [];
  const ends = links.peerLinks.map((link) => {
    const [first, second] = link.ends;
    const path = choosePeerLinkPath(link.pinned, first, second, link.keying !== undefined, link.kind === 'shortcut');
    const decided = pathText(path.encap, path.reason, path.esp);
    const changed = link.recordedPath !== decided;
    if (changed) peerLinkPaths.push({ linkId: link.linkId, encap: path.encap, reason: path.reason, ...(path.esp ? { esp: path.esp } : {}), decided });
    const me = first.name === peer.name ? first : second;
    const table = changed ? withEncap(link.table, link, path.encap, path.esp) : link.table;
    const esp = link.keying && table.esp ? endEspOf(link.keying, me === first ? 'first' : 'second', table.esp) : undefined;
    const end = buildPeerLinkEnd(table, me, me === first ? second : first, path, settings.keepaliveInterval,
      { bindingId: link.linkId, key: link.key }, settings.hubId, esp);
    // A shortcut's end says so, and why: the member reports its tunnel's liveness and traffic.
    return link.kind === 'shortcut' ? { ...end, path: { ...end.path, kind: 'shortcut' as const, why: link.why ?? 'shortcut' } } : end;
  });
  const tunnels = [specs.peerEnd, ...ends.flatMap((end) => (end.spec ? [end.spec] : []))];
  const paths: WireLinkPath[] = [{ tunnel: specs.peerEnd.name, encap: specs.peerEnd.encap, reason: choice.reason, reachable: true }, ...ends.map((end) => end.path)];
  const issued = new Set(tunnels.map((tunnel) => tunnel.name));
  const routed = memberRouteSpecs(settings.routing, links.routingFacts, peer.name, links.memberRouting, hubTable.ends[1].inner,
    links.peerLinks.map((link) => ({
      tunnel: tunnelInterfaceName(link.other),
      other: link.other,
      address: link.table.ends[0].name === peer.name ? link.table.ends[0].inner : link.table.ends[1].inner,
      // A shortcut carries routes only once verified; until then traffic stays on the hub.
      issued: issued.has(tunnelInterfaceName(link.other)) && link.routed !== false,
      ...(link.otherHubAddress !== undefined ? { otherHubAddress: link.otherHubAddress } : {}),
    })));
  const advertised: RouteRequestOutcome[] = [...links.memberRouting.prefixes, ...peer.routeRefusals].sort((a, b) => (a.prefix < b.prefix ? -1 : 1));
  // Object.assign, not spread: spreading a spec built by spreads cost V8 a new hidden class each time (about 5 us a spec).
  const hubEnd: WireTunnelSpec = Object.assign({}, specs.hubEnd, routed.hubEnd);
  const config: PeerConfigBody = {
    tunnels: tunnels.map((tunnel): WireTunnelSpec => Object.assign({}, tunnel, routed.tunnels.get(tunnel.name))),
    links: [specs.table, ...ends.map((end) => end.table)],
    paths,
    advertised,
    ...(links.cluster ? { cluster: links.cluster } : {}),
  };
  return {
    kind: 'configure',
    hubLinkId: hubLink.id,
    choice,
    hubLinkPath: hubPathChanged ? { linkId: hubLink.id, encap: choice.encap, reason: choice.reason, ...(choice.esp ? { esp: choice.esp } : {}) } : undefined,
    peerLinkPaths,
    hubEnd,
    config,
    stored: { hubEnd: redactBindingKey(hubEnd), config: { ...config, tunnels: config.tunnels.map(redactBindingKey) } },
    linked: links.peerLinks.map((link) => link.other),
  };
}

/** A link's table once its path runs `encap` (in ESP when `esp` says how). */
function withEncap(table: LinkTable, keying: LinkKeying, encap: Encapsulation, esp: EspPath | undefined): LinkTable {
  const { esp: _previous, ...rest } = table;
  return { ...rest, ...linkEncapFields(encap, keying.greKey, keying.keyless, esp ?? null) };
}
