import { TunnelError } from '../../shared/errors.js';
import type { HubStatus } from './hub-status.js';

/** A peer's state as `peer list --state` and `status --state` select it: a control session open on this hub, or not. */
export type PeerState = 'up' | 'down';

/** The peer states, in the order the help text names them. */
export const PEER_STATES: readonly PeerState[] = ['up', 'down'];

/** The longest `--filter` text: longer than any name, address or endpoint it could match. */
export const MAX_FILTER_LENGTH = 64;

/** Which peers `peer list` and `status` show; an empty filter shows every peer. */
export interface PeerFilter {
  readonly state?: PeerState;
  /** Matched without regard to case as a part of the name, the inner address or an endpoint address. */
  readonly text?: string;
}

/** What a peer is matched on. */
export interface PeerFilterFacts {
  readonly name: string;
  readonly connected: boolean;
  /** The peer's address on its hub link. */
  readonly inner: string;
  /** Its public addresses: seen and reported (status), or the last seen (peer list). */
  readonly endpoints: readonly (string | null)[];
}

/** Parses `--state`: `up` or `down`. */
export function parsePeerState(text: string, option = '--state'): PeerState {
  const state = PEER_STATES.find((candidate) => candidate === text);
  if (state === undefined) throw new TunnelError('ERR_INVALID_ARGUMENT', `${option} "${text.slice(0, 32)}" must be ${PEER_STATES.join(' or ')} (the state folder goes before the command: tunnel-hub --state DIR …)`);
  return state;
}

/** Parses `--filter`: 1-64 characters, no control characters. */
export function parseFilterText(text: string, option = '--filter'): string {
  // No name or address holds a control character: a filter with one is a mistake.
  if (text.length === 0 || text.length > MAX_FILTER_LENGTH || /[\u0000-\u001f\u007f]/.test(text)) {
    throw new TunnelError('ERR_INVALID_ARGUMENT', `${option} must be 1 to ${MAX_FILTER_LENGTH} printable characters (a part of a name, an inner address or an endpoint)`);
  }
  return text;
}

/** True when the peer passes the filter: in the state asked for, and with the text in its name, inner address or an endpoint. */
export function peerMatches(filter: PeerFilter, peer: PeerFilterFacts): boolean {
  if (filter.state !== undefined && (filter.state === 'up') !== peer.connected) return false;
  if (filter.text === undefined) return true;
  const text = filter.text.toLowerCase();
  return peer.name.includes(text) || peer.inner.includes(text) || peer.endpoints.some((address) => address !== null && address.toLowerCase().includes(text));
}

/**
 * The status with only the peers that pass the filter, and the peer<->peer links with an end
 * among them; the hub and its links to other hubs are left as they are.
 */
export function filterHubStatus(status: HubStatus, filter: PeerFilter): HubStatus {
  if (filter.state === undefined && filter.text === undefined) return status;
  const peers = status.peers.filter((peer) => peerMatches(filter, {
    name: peer.name, connected: peer.connected, inner: peer.inner, endpoints: [peer.endpoint.seen, peer.endpoint.reported],
  }));
  const shown = new Set(peers.map((peer) => peer.name));
  return { ...status, peers, links: status.links.filter((link) => shown.has(link.ends[0]) || shown.has(link.ends[1])) };
}
