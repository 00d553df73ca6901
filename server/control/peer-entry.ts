import type { TunnelError } from '../../shared/errors.js';
import type { Encapsulation } from '../../shared/net/encapsulation.js';
import type { EspPath } from '../../shared/protocol/index.js';
import type { RouteRequestOutcome } from '../registry/peer-routing-store.js';
import type { AuthenticatedPeer } from './authenticated-peer.js';
import type { ProbeResults } from './choose-encapsulation.js';
import type { ControlSession } from './control-session.js';

/** What the hub knows live about one peer's control connection. */
export interface PeerLiveState {
  connected: boolean;
  transport: 'ws' | 'ssh';
  auth: AuthenticatedPeer['method'];
  session: string;
  /** Where the control connection (or the last shell `endpoint` report) comes from: the verified endpoint. */
  seen: string;
  /** What the peer says its address is (null until it says). */
  reported: string | null;
  connectedAt: number;
  lastSeen: number;
  /** Why the last session ended, or the last error the peer reported. */
  lastError: string | null;
  /** Path probes the member reported for its hub link since its address last changed. */
  probes: ProbeResults;
  /** The hub link's encapsulation and why (null before the first reconfiguration). */
  encap: Encapsulation | null;
  encapReason: string | null;
  /** How the hub link carries ESP when it is encrypted (null: in the clear, or not decided yet). */
  esp: EspPath | null;
  /** The hub link's outer family: the family the member's control connection came over. */
  outerFamily: 'ipv4' | 'ipv6';
  /** What the member's `hello` said it runs (e.g. `tunnel-client/0.1.0`); null for a shell report. */
  software: string | null;
}

/**
 * Everything the control plane holds for one peer, in one place; only the control plane writes it.
 * An entry with nothing left in it (`isIdle`) is dropped.
 */
export interface PeerEntry {
  /** The peer's newest session until it closes, and how it authenticated. */
  session: ControlSession | undefined;
  sessionAuth: AuthenticatedPeer['method'] | undefined;
  /** Set once the peer said hello or reported over a shell; cleared when it was removed or moved to another hub. */
  live: PeerLiveState | undefined;
  /** The tail of the peer's work queue: its work runs in order, so two quick reports never apply out of order. */
  queue: Promise<TunnelError | undefined> | undefined;
  /** This process runs the hub's end of the peer's hub link (the datapath starts empty on every start). */
  hubEndRunning: boolean;
  /** Prefixes the peer advertised that the hub refused (nothing is stored for those). */
  routeRefusals: RouteRequestOutcome[];
}

/** A new entry, holding nothing yet. */
export function emptyPeerEntry(): PeerEntry {
  return { session: undefined, sessionAuth: undefined, live: undefined, queue: undefined, hubEndRunning: false, routeRefusals: [] };
}

/** True when the entry holds nothing worth keeping. */
export function isIdle(entry: PeerEntry): boolean {
  return !entry.session && !entry.live && !entry.queue && !entry.hubEndRunning && entry.routeRefusals.length === 0;
}
