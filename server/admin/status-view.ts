import type { PeerLiveState } from '../control/peer-entry.js';
import type { TunnelLivenessStatus } from '../control/hub-datapath.js';
import type { HubStatus, PeerStatus } from '../hub/hub-status.js';

/** One peer as the live status page shows it. */
export interface StatusViewPeer {
  name: string;
  /** A member: whether its session is open. A router (no session): what its tunnel's keepalives say. */
  state: 'up' | 'down';
  /** The session's transport; null for a router, which reports without one. */
  transport: 'ws' | 'ssh' | null;
  /** True for a router: it reports its address with a shell `endpoint` command or dyndns2, never a session. */
  router: boolean;
  /** The address the hub verified, and the one the member reports (they differ behind a NAT). */
  seen: string | null;
  reported: string | null;
  nat: boolean;
  encap: string;
  encapReason: string | null;
  /** The hub link's /30 and the member's address on it. */
  prefix: string;
  inner: string;
  /** Prefixes routed through the member's tunnel. */
  routes: string[];
  lastSeen: string | null;
  /** Since when the peer has been in its state (ISO time), or null when the hub cannot say. */
  since: string | null;
  /** In a cluster, the hub serving the member now; null on a hub alone or before any hub served it. */
  hub: string | null;
  /** Totals; the page turns consecutive samples into rates. Null when the hub runs no tunnel for it. */
  rxBytes: number | null;
  txBytes: number | null;
  rxPackets: number | null;
  txPackets: number | null;
  dropped: number | null;
  /** What the member's last session said it runs (`tunnel-client/VERSION`), or null. */
  software: string | null;
  /** The hub link's encryption, e.g. `ESP aes-gcm` or `ESP aes-gcm in UDP`; null in the clear. Never an SPI or key. */
  encryption: string | null;
  /** The members it reaches directly over a shortcut both ends verified, by name; their traffic skips the hub. */
  direct: string[];
}

/** What one live update of the status page carries. */
export interface StatusView {
  /** When the sample was taken (ms since the epoch), for rates. */
  at: number;
  /** `version`: the hub's package version. */
  hub: { endpoint: string; hubId: string | null; wsPort: number | null; sshPort: number | null; version: string };
  peers: StatusViewPeer[];
}

/** What a running hub knows beyond its status report, for the page's states and the since column. */
export interface StatusViewFacts {
  /** The control plane's live state per peer (when each session started). */
  live?: ReadonlyMap<string, Pick<PeerLiveState, 'connectedAt'>>;
  /** The liveness of the hub's end of a tunnel, by interface name. */
  liveness?(tunnel: string): TunnelLivenessStatus | undefined;
  /** In a cluster, the hub serving each member. */
  servingHubs?: ReadonlyMap<string, string>;
}

/** The view's peer order: up peers first, then by name. */
export function compareViewPeers(a: StatusViewPeer, b: StatusViewPeer): number {
  return a.state === b.state ? a.name.localeCompare(b.name) : a.state === 'up' ? -1 : 1;
}

const iso = (ms: number | null | undefined): string | null => (ms === null || ms === undefined ? null : new Date(ms).toISOString());

/**
 * A router's state and since: its tunnel's liveness (keepalives answered or not). A tunnel that
 * sends no keepalives (ipip, interval 0) reads up while the hub runs it, as the datapath says.
 */
function routerState(peer: PeerStatus, facts: StatusViewFacts): { state: 'up' | 'down'; since: string | null } {
  const liveness = facts.liveness?.(peer.tunnel);
  if (!liveness) return { state: 'down', since: peer.lastSeen };
  if (liveness.state === 'up') return { state: 'up', since: iso(facts.live?.get(peer.name)?.connectedAt) ?? peer.lastSeen };
  return { state: 'down', since: iso(liveness.lastHeardAt) ?? peer.lastSeen };
}

/** What the page says of a peer's ESP: the AEAD and, for a NAT path, that it travels in UDP. */
function encryptionText(peer: PeerStatus): string | null {
  if (!peer.encrypted) return null;
  return `ESP${peer.aead ? ` ${peer.aead}` : ''}${peer.esp === 'udp' ? ' in UDP' : ''}`;
}

/** Each member's partners over shortcuts that are up (verified by both ends), sorted by name. */
function directPartners(links: HubStatus['links']): Map<string, string[]> {
  const partners = new Map<string, string[]>();
  for (const link of links) {
    if (link.kind !== 'shortcut' || link.shortcut?.state !== 'up') continue;
    const [a, b] = link.ends;
    partners.set(a, [...(partners.get(a) ?? []), b].sort());
    partners.set(b, [...(partners.get(b) ?? []), a].sort());
  }
  return partners;
}

/**
 * Reduces the hub's status to what the page shows: up peers first, then by name. A router is told
 * apart from a member by having live state without a session's `hello` (no software): its state
 * comes from its tunnel's liveness, since it never holds a session that would say up.
 */
export function buildStatusView(status: HubStatus, at: number, facts: StatusViewFacts = {}): StatusView {
  const direct = directPartners(status.links);
  const peers = status.peers.map((peer): StatusViewPeer => {
    const router = !peer.connected && peer.transport !== null && peer.software === null;
    const { state, since } = router
      ? routerState(peer, facts)
      : peer.connected
        ? { state: 'up' as const, since: iso(facts.live?.get(peer.name)?.connectedAt) }
        : { state: 'down' as const, since: peer.lastSeen };
    return {
      name: peer.name,
      state,
      transport: router ? null : peer.transport,
      router,
      seen: peer.endpoint.seen,
      reported: peer.endpoint.reported,
      nat: peer.nat,
      encap: peer.encap,
      encapReason: peer.encapReason,
      prefix: peer.prefix,
      inner: peer.inner,
      routes: [...peer.routes],
      lastSeen: peer.lastSeen,
      since,
      hub: facts.servingHubs?.get(peer.name) ?? null,
      rxBytes: peer.counters?.rx.bytes ?? null,
      txBytes: peer.counters?.tx.bytes ?? null,
      rxPackets: peer.counters?.rx.packets ?? null,
      txPackets: peer.counters?.tx.packets ?? null,
      dropped: peer.counters ? peer.counters.rx.dropped + peer.counters.tx.dropped : null,
      software: peer.software,
      encryption: encryptionText(peer),
      direct: direct.get(peer.name) ?? [],
    };
  });
  peers.sort(compareViewPeers);
  const { endpoint, hubId, wsPort, sshPort } = status.hub;
  return { at, hub: { endpoint, hubId, wsPort, sshPort, version: status.version }, peers };
}
