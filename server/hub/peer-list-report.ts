import { withHubState } from '../hub-state/hub-state.js';
import type { PeerSummary } from '../registry/peer-store.js';
import type { Registry } from '../registry/registry.js';
import { HUB_FRESH_MS } from './cluster-membership.js';
import { peerMatches, type PeerFilter, type PeerState } from './peer-filter.js';
import { readStatusSocket, statusSocketPath } from './status-socket.js';

/** One line of `tunnel-hub peer list`: the registry's summary and whether a session is open on the running hub. */
export interface PeerListEntry extends PeerSummary {
  /**
   * `up` while a control session is open on the running hub, or, in a cluster, while another hub
   * that is up holds its last session claim; `down` otherwise, and when no hub runs.
   */
  readonly state: PeerState;
}

/**
 * `peer list`: every peer from one registry read, its state from the running hub (the names with
 * a session open, not its whole status), and only those `filter` selects.
 */
export async function peerListReport(stateDir: string, filter: PeerFilter = {}): Promise<PeerListEntry[]> {
  return withHubState(stateDir, async ({ registry, cluster }) => {
    const [peers, sessions, servedElsewhere] = await Promise.all([registry.peers.list(), openSessions(stateDir), servedByOtherLiveHubs(registry, cluster?.hubName)]);
    return peers.flatMap((peer): PeerListEntry[] => {
      const connected = sessions.has(peer.name) || servedElsewhere.has(peer.name);
      return peerMatches(filter, { name: peer.name, connected, inner: peer.inner, endpoints: [peer.public] })
        ? [{ ...peer, state: connected ? 'up' : 'down' }]
        : [];
    });
  });
}

/** The peers with a control session open on the running hub (none when no hub runs). */
async function openSessions(stateDir: string): Promise<ReadonlySet<string>> {
  const answer = await readStatusSocket(statusSocketPath(stateDir), { view: 'sessions' }) as
    { sessions?: string[]; peers?: { name: string; connected: boolean }[] } | undefined;
  if (answer === undefined) return new Set();
  // A hub started before the socket took requests sends its whole status instead.
  return new Set(answer.sessions ?? (answer.peers ?? []).flatMap((peer) => (peer.connected ? [peer.name] : [])));
}

/**
 * In a cluster, the members whose last session claim belongs to another hub that is up: `peer list`
 * on any hub then agrees about them. None for a hub alone.
 */
async function servedByOtherLiveHubs(registry: Registry, ownHub: string | undefined): Promise<ReadonlySet<string>> {
  if (ownHub === undefined) return new Set();
  const [owners, hubs] = await Promise.all([registry.sessions.owners(), registry.hubs.list(HUB_FRESH_MS)]);
  const liveOthers = new Set(hubs.filter((hub) => hub.state === 'up' && hub.name !== ownHub).map((hub) => hub.name));
  return new Set([...owners].flatMap(([peer, hub]) => (liveOthers.has(hub) ? [peer] : [])));
}
