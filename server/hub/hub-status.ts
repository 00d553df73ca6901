import { tunnelInterfaceName } from '../../shared/net/tunnel-interface-name.js';
import { PACKAGE_VERSION } from '../../shared/package-version.js';
import type { ProbeResults } from '../control/choose-encapsulation.js';
import type { PeerLiveState } from '../control/peer-entry.js';
import type { HubBindingStatus, HubDatapath, TunnelEncryptionStatus, TunnelTraffic } from '../control/hub-datapath.js';
import type { KeptLinkStatus } from '../control/link-sa-keeper.js';
import { hubLinkStatuses, type HubLinkStatus } from '../cluster/hub-link-status.js';
import type { Registry } from '../registry/registry.js';
import type { ShortcutCounts, ShortcutFailureStatus, ShortcutLiveStatus } from '../shortcuts/shortcut-keeper.js';

/** One peer's line in `tunnel-hub status --json`. */
export interface PeerStatus {
  name: string;
  connected: boolean;
  transport: 'ws' | 'ssh' | null;
  /** The address the hub verified (its control connection's source) and the one the peer claims. */
  endpoint: { seen: string | null; reported: string | null };
  /** True when the peer claims another address than the hub sees: a NAT in between. */
  nat: boolean;
  encap: string;
  /** The hub link's outer family: the one the member reaches the hub over (null: never seen). */
  outerFamily: 'ipv4' | 'ipv6' | null;
  /** Why the hub link runs `encap`: `pinned`, `public`, `nat-detected`, `gre-probe-unanswered`, `fou-unanswered`. */
  encapReason: string | null;
  /** What the member's path probes found since its address last changed (true answered, false not). */
  probes: ProbeResults | null;
  /** Seconds between path keepalives on this link (they keep a NAT's mapping alive). */
  keepaliveInterval: number | null;
  prefix: string;
  inner: string;
  /** The hub's interface for this peer's link. */
  tunnel: string;
  /** Spec versions: issued to each end, applied by the hub's datapath, acknowledged by the peer. */
  specVersion: { hub: { issued: number; applied: number }; peer: { issued: number; acked: number } } | null;
  lastSeen: string | null;
  lastError: string | null;
  counters: TunnelTraffic | null;
  /** The authenticated UDP binding of the hub's end (fou/gue links): `bound` to address:port, or `unbound` after expiry. */
  binding: HubBindingStatus | null;
  /** The prefixes the hub routes through this member's tunnel. */
  routes: string[];
  /** Inner packets dropped on the tunnel for a source outside the member's addresses and prefixes (null: not running). */
  spoofed: number | null;
  /** What the member's last session said it runs (`tunnel-client/VERSION`); null without one since the hub started. */
  software: string | null;
  /** The hub link is encrypted (ESP): as the hub's end runs it, else as last recorded. */
  encrypted: boolean;
  /** How it carries ESP: `raw` (IP protocol 50) or `udp` (RFC 3948); null in the clear. */
  esp: 'raw' | 'udp' | null;
  /** The AEAD, the SPIs the hub's end opens (newest first) and seals with, and its outbound SA's age: never a key. */
  aead: TunnelEncryptionStatus['aead'];
  spiIn: number[];
  spiOut: number | null;
  saAgeSeconds: number | null;
  /** Where the link's keys stand: the current epoch, the rekey phase and since when (null: not encrypted here). */
  rekey: { epoch: number; phase: string; since: string } | null;
  /** ESP's drops on the hub's end: `rx:auth`, `rx:replay`, `rx:no-sa`, `tx:no-sa`, `rx:cleartext` (null: not running). */
  dropsByReason: Record<string, number> | null;
}

/** One peer<->peer link's line in `tunnel-hub status --json`. */
export interface PeerLinkStatus {
  ends: [string, string];
  prefix: string;
  encap: string;
  /** Why: `public`, `nat-detected`, `pinned`, or why the ends cannot meet (`both-ends-behind-nat`, `endpoint-unknown`). */
  reason: string | null;
  reachable: boolean | null;
  /** Each end's verified public address, in the order of `ends`. */
  public: [string | null, string | null];
  /** `operator` (`link add`) or `shortcut` (the hub made it for a busy pair). */
  kind: 'operator' | 'shortcut';
  /** Why the hub made a shortcut (`rate 3.2 Mbit/s`); null for an operator's link. */
  why: string | null;
  /** A shortcut as the running hub keeps it (state, rate, last activity); null otherwise. */
  shortcut: ShortcutLiveStatus | null;
}

/** The running hub's shortcuts beyond the links: pairs kept on the hub after a failure, and what it counted. */
export interface HubShortcutsStatus {
  failures: ShortcutFailureStatus[];
  counts: ShortcutCounts;
}

/** The whole of `tunnel-hub status --json`. */
export interface HubStatus {
  /** The hub's package version: the running `serve`'s, or this CLI's when none runs. */
  version: string;
  hub: { running: boolean; endpoint: string; pid: number | null; wsPort: number | null; sshPort: number | null; hubId: string | null };
  peers: PeerStatus[];
  links: PeerLinkStatus[];
  /** A hub of a cluster: its links to the other hubs (empty for a hub alone). */
  hubLinks: HubLinkStatus[];
  /** The running hub's shortcut failures and counts; null when no hub runs. */
  shortcuts: HubShortcutsStatus | null;
}

/** What the running hub's shortcut keeper tells status. */
export interface ShortcutStatusSource {
  statusOf(linkId: number): ShortcutLiveStatus | undefined;
  failuresNow(): ShortcutFailureStatus[];
  counters(): ShortcutCounts;
}

/** Reasons under which a peer<->peer link gets no tunnel. */
const UNREACHABLE_REASONS = new Set(['both-ends-behind-nat', 'endpoint-unknown']);

/** What a running hub adds to the registry's view. */
export interface LiveHubView {
  live: ReadonlyMap<string, PeerLiveState>;
  /** The path keepalive interval the hub issues, in seconds. */
  keepaliveInterval: number;
  datapath: HubDatapath;
  pid: number;
  wsPort: number;
  sshPort: number;
  hubId: string;
  /** Where an encrypted link's keys stand, by link id. */
  linkKeys?(linkId: number): KeptLinkStatus | undefined;
  /** The shortcut keeper, when the hub runs one. */
  shortcuts?: ShortcutStatusSource;
}

/**
 * Builds the status report: every registered peer from the registry, overlaid with the live
 * sessions and datapath counters when `live` is given (the serve process), else as last recorded;
 * a hub of a cluster (`hubName`) adds its links to the other hubs.
 */
export async function buildHubStatus(registry: Registry, live?: LiveHubView, hubName?: string): Promise<HubStatus> {
  // One read for every peer and one for every peer link: a hub of 10,000 members answers in one pass.
  const overview = await registry.overview.list();
  live?.datapath.readAllStatuses?.();
  const peers = overview.map((peer): PeerStatus => {
    const state = live?.live.get(peer.name);
    const { versions } = peer;
    const reported = state ? state.reported : versions?.peer.reported ?? null;
    const seen = state?.seen ?? peer.endpoint?.address ?? null;
    const tunnel = tunnelInterfaceName(peer.name);
    const lastSeen = state ? state.lastSeen : peer.endpoint?.seenAt;
    const encryption = live?.datapath.encryption?.(tunnel);
    const keys = live?.linkKeys?.(peer.linkId);
    const esp = state ? state.esp : peer.pathEsp;
    return {
      name: peer.name,
      connected: state?.connected ?? false,
      transport: state?.transport ?? null,
      endpoint: { seen, reported },
      nat: seen !== null && reported !== null && seen !== reported,
      outerFamily: seen === null ? null : seen.includes(':') ? 'ipv6' : 'ipv4',
      // A running hub reports the pair it last applied; the registry's table may already hold a
      // pin the hub has not picked up yet, which would pair the new encap with the old reason.
      encap: state?.encap ?? peer.encap,
      encapReason: state?.encapReason ?? peer.pathReason,
      probes: state ? state.probes : null,
      keepaliveInterval: live?.keepaliveInterval ?? null,
      prefix: peer.prefix,
      inner: peer.inner,
      tunnel,
      specVersion: versions
        ? { hub: { issued: versions.hub.issued, applied: versions.hub.applied }, peer: { issued: versions.peer.issued, acked: versions.peer.acked } }
        : null,
      lastSeen: lastSeen === undefined ? null : new Date(lastSeen).toISOString(),
      lastError: state?.lastError ?? null,
      counters: live?.datapath.traffic(tunnel) ?? null,
      binding: live?.datapath.binding?.(tunnel) ?? null,
      routes: live?.datapath.routes?.(tunnel) ?? [],
      spoofed: live?.datapath.spoofed?.(tunnel) ?? null,
      software: state?.software ?? null,
      encrypted: encryption?.encrypted ?? esp !== null,
      esp,
      aead: encryption?.aead ?? null,
      spiIn: encryption?.spiIn ?? [],
      spiOut: encryption?.spiOut ?? null,
      saAgeSeconds: encryption?.saAgeSeconds ?? null,
      rekey: keys ? { epoch: keys.epoch, phase: keys.phase, since: new Date(keys.since).toISOString() } : null,
      dropsByReason: encryption?.dropsByReason ?? null,
    };
  });
  const links = (await registry.links.listWithTables({ peerLinksOnly: true })).map(({ link, table, reason }): PeerLinkStatus => ({
    ends: [link.ends[0], link.ends[1]],
    prefix: link.prefix,
    encap: table.encap,
    reason,
    reachable: reason === null ? null : !UNREACHABLE_REASONS.has(reason),
    public: [table.ends[0].public, table.ends[1].public],
    kind: link.kind === 'shortcut' ? 'shortcut' : 'operator',
    why: link.why,
    shortcut: live?.shortcuts?.statusOf(link.id) ?? null,
  }));
  return {
    version: PACKAGE_VERSION,
    hub: {
      running: live !== undefined,
      endpoint: (await registry.settings.require()).endpoint,
      pid: live?.pid ?? null,
      wsPort: live?.wsPort ?? null,
      sshPort: live?.sshPort ?? null,
      hubId: live?.hubId ?? null,
    },
    peers,
    links,
    hubLinks: await hubLinkStatuses(registry, hubName, live?.datapath),
    shortcuts: live?.shortcuts ? { failures: live.shortcuts.failuresNow(), counts: live.shortcuts.counters() } : null,
  };
}
