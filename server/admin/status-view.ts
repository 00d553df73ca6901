import type { HubStatus } from '../hub/hub-status.js';

/** One peer as the live status page shows it. */
export interface StatusViewPeer {
  name: string;
  state: 'up' | 'down';
  transport: 'ws' | 'ssh' | null;
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
  /** Totals; the page turns consecutive samples into rates. Null when the hub runs no tunnel for it. */
  rxBytes: number | null;
  txBytes: number | null;
  rxPackets: number | null;
  txPackets: number | null;
  dropped: number | null;
  /** What the member's last session said it runs (`tunnel-client/VERSION`), or null. */
  software: string | null;
}

/** What one live update of the status page carries. */
export interface StatusView {
  /** When the sample was taken (ms since the epoch), for rates. */
  at: number;
  /** `version`: the hub's package version. */
  hub: { endpoint: string; hubId: string | null; wsPort: number | null; sshPort: number | null; version: string };
  peers: StatusViewPeer[];
}

/** Reduces the hub's status to what the page shows: up peers first, then by name. */
export function buildStatusView(status: HubStatus, at: number): StatusView {
  const peers = status.peers.map((peer): StatusViewPeer => ({
    name: peer.name,
    state: peer.connected ? 'up' : 'down',
    transport: peer.transport,
    seen: peer.endpoint.seen,
    reported: peer.endpoint.reported,
    nat: peer.nat,
    encap: peer.encap,
    encapReason: peer.encapReason,
    prefix: peer.prefix,
    inner: peer.inner,
    routes: [...peer.routes],
    lastSeen: peer.lastSeen,
    rxBytes: peer.counters?.rx.bytes ?? null,
    txBytes: peer.counters?.tx.bytes ?? null,
    rxPackets: peer.counters?.rx.packets ?? null,
    txPackets: peer.counters?.tx.packets ?? null,
    dropped: peer.counters ? peer.counters.rx.dropped + peer.counters.tx.dropped : null,
    software: peer.software,
  }));
  peers.sort((a, b) => (a.state === b.state ? a.name.localeCompare(b.name) : a.state === 'up' ? -1 : 1));
  const { endpoint, hubId, wsPort, sshPort } = status.hub;
  return { at, hub: { endpoint, hubId, wsPort, sshPort, version: status.version }, peers };
}
