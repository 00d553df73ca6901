import type { StatusView, StatusViewPeer } from './status-view.js';

/**
 * How much a peer's counters grew since the sample before: name, then bytes in and out, then
 * packets in and out. Most of a busy hub's changes are these, so they travel as a short array.
 */
export type TrafficStep = [name: string, rxBytes: number, txBytes: number, rxPackets: number, txPackets: number];

/** A changed peer: its name and the fields whose value changed, with their new value. */
export type PeerChange = Partial<StatusViewPeer> & { name: string };

/** What turns one status view into the next: only what changed. */
export interface StatusViewDelta {
  /** The new sample's time. */
  at: number;
  /** The hub's own line, when it changed. */
  hub?: StatusView['hub'];
  /** Peers new since the view before, whole. */
  added?: StatusViewPeer[];
  /** Names of peers gone. */
  removed?: string[];
  /** Changed fields, except counters that only grew (those are in `traffic`). */
  changed?: PeerChange[];
  traffic?: TrafficStep[];
}

const COUNTERS = ['rxBytes', 'txBytes', 'rxPackets', 'txPackets'] as const;

/** Equal as JSON would carry them: primitives by value, arrays and objects by content. */
function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * What changed from `before` to `after`: peers added (whole), removed (by name), changed (only the
 * fields that differ), and counters that grew as increments. Counters that appear, vanish or go
 * backwards (a tunnel re-created) travel as changed fields, with their new value.
 */
export function diffStatusViews(before: StatusView, after: StatusView): StatusViewDelta {
  const delta: StatusViewDelta = { at: after.at };
  if (!same(before.hub, after.hub)) delta.hub = after.hub;
  const previous = new Map(before.peers.map((peer) => [peer.name, peer]));
  const added: StatusViewPeer[] = [];
  const changed: PeerChange[] = [];
  const traffic: TrafficStep[] = [];
  for (const peer of after.peers) {
    const old = previous.get(peer.name);
    if (!old) {
      added.push(peer);
      continue;
    }
    previous.delete(peer.name);
    const grew = COUNTERS.every((key) => {
      const now = peer[key];
      const then = old[key];
      return now !== null && then !== null && now >= then;
    });
    if (grew && COUNTERS.some((key) => peer[key] !== old[key])) {
      const step = COUNTERS.map((key) => (peer[key] ?? 0) - (old[key] ?? 0));
      traffic.push([peer.name, step[0] ?? 0, step[1] ?? 0, step[2] ?? 0, step[3] ?? 0]);
    }
    const change: Record<string, unknown> = {};
    let any = false;
    for (const key of Object.keys(peer) as (keyof StatusViewPeer)[]) {
      if (grew && (COUNTERS as readonly string[]).includes(key)) continue;
      if (!same(old[key], peer[key])) {
        change[key] = peer[key];
        any = true;
      }
    }
    if (any) changed.push({ ...change, name: peer.name } as PeerChange);
  }
  if (added.length > 0) delta.added = added;
  if (previous.size > 0) delta.removed = [...previous.keys()];
  if (changed.length > 0) delta.changed = changed;
  if (traffic.length > 0) delta.traffic = traffic;
  return delta;
}

/**
 * The view after `delta`, from the view it was computed against; peers in the view's order (up
 * first, then by name). Peers the delta leaves alone are the same objects. The status page runs
 * this very function (its source is inlined into the page's script), so it uses nothing from
 * outside itself.
 */
export function applyStatusDelta(view: StatusView, delta: StatusViewDelta): StatusView {
  let peers = view.peers.slice();
  const index = new Map<string, number>();
  peers.forEach((peer, i) => index.set(peer.name, i));
  let reorder = false;
  for (const change of delta.changed ?? []) {
    const i = index.get(change.name);
    const old = i === undefined ? undefined : peers[i];
    if (i === undefined || old === undefined) continue;
    const next: StatusViewPeer = Object.assign({}, old, change);
    if (next.state !== old.state) reorder = true;
    peers[i] = next;
  }
  for (const [name, rxBytes, txBytes, rxPackets, txPackets] of delta.traffic ?? []) {
    const i = index.get(name);
    const old = i === undefined ? undefined : peers[i];
    if (i === undefined || old === undefined) continue;
    peers[i] = Object.assign({}, old, {
      rxBytes: (old.rxBytes ?? 0) + rxBytes, txBytes: (old.txBytes ?? 0) + txBytes,
      rxPackets: (old.rxPackets ?? 0) + rxPackets, txPackets: (old.txPackets ?? 0) + txPackets,
    });
  }
  if (delta.removed && delta.removed.length > 0) {
    const gone = new Set(delta.removed);
    peers = peers.filter((peer) => !gone.has(peer.name));
  }
  if (delta.added && delta.added.length > 0) {
    peers = peers.concat(delta.added);
    reorder = true;
  }
  // The order of buildStatusView (compareViewPeers), written out here so the page can run it.
  if (reorder) peers.sort((a, b) => (a.state === b.state ? a.name.localeCompare(b.name) : a.state === 'up' ? -1 : 1));
  return { at: delta.at, hub: delta.hub ?? view.hub, peers };
}
