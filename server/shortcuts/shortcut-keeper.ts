import { isIPv6 } from 'node:net';
import type { Logger } from 'pino';
import { isTunnelError } from '../../shared/errors.js';
import { tunnelInterfaceName } from '../../shared/net/tunnel-interface-name.js';
import { DEFAULT_UDP_PORT } from '../../shared/datapath/tunnel-spec.js';
import type { HubDatapath } from '../control/hub-datapath.js';
import { sessionEstablished } from '../control/diagnostics.js';
import type { PeerLiveState } from '../control/peer-entry.js';
import { choosePeerLinkPath } from '../control/peer-link-specs.js';
import type { ShortcutLinkReport, ShortcutLinks } from '../control/shortcut-links.js';
import type { RoutingMode } from '../routing/member-route-specs.js';
import { DestinationOwners } from './destination-owners.js';
import { LiveShortcut } from './live-shortcut.js';
import { pairKey } from './pair-key.js';
import { observePairTraffic, type PairRate } from './pair-traffic.js';
import { planShortcuts } from './plan-shortcuts.js';
import { recordShortcutFailure, type PairEndpoints, type ShortcutFailure, type ShortcutFailureReason } from './shortcut-backoff.js';
import type { ShortcutCandidate } from './shortcut-candidates.js';
import type { ShortcutMember } from './shortcut-member.js';
import type { ShortcutOptions } from './shortcut-options.js';
import type { ShortcutRegistry, ShortcutRegistryView } from './shortcut-registry.js';
import type { ExistingLink, ShortcutRemoval, ShortcutRemovalReason } from './shortcut-teardown.js';

/** What the datapath's tallies say each busy member tunnel received toward, by interface name. */
type BusyDestinations = ReadonlyMap<string, { address: string; bytes: number }[]>;

/** How often the keeper reads the hub's tallies and decides. */
export const SHORTCUT_TICK_MS = 1_000;
/** How long a new shortcut has to be reported up by both ends before it counts as failed. */
export const SHORTCUT_VERIFY_MS = 5_000;
/** A pair with no traffic for this long and no shortcut is forgotten. */
const PAIR_FORGET_MS = 60_000;
/** A shortcut's last activity is written to the registry at most this often. */
const TOUCH_EVERY_MS = 60_000;

/** The control plane as the keeper uses it. */
export interface ShortcutPlane {
  /** Every peer the hub has seen since it started, with its session's state. */
  liveState(): ReadonlyMap<string, PeerLiveState>;
  /** Reconfigures these peers from the registry as it is now. */
  refresh(peers: readonly string[]): Promise<void>;
}

/** What the keeper counted since the hub started (`/metrics`). */
export interface ShortcutCounts {
  made: number;
  failed: Record<string, number>;
  removed: Record<string, number>;
}

/** One shortcut as `tunnel-hub status` shows it. */
export interface ShortcutLiveStatus {
  /** `verifying` until both ends reported it up, then `up`; `failed` until it is removed. */
  state: 'verifying' | 'up' | 'failed';
  /** Bits per second across it, from its ends' reports. */
  rate: number;
  lastActiveAt: string;
  verifiedAt: string | null;
  /** Why it failed, or null. */
  failed: ShortcutFailureReason | null;
}

/** A pair that stays on the hub after its shortcut failed, until `retryAt`. */
export interface ShortcutFailureStatus {
  ends: [string, string];
  reason: ShortcutFailureReason;
  failures: number;
  failedAt: string;
  retryAt: string;
}

/** Everything the keeper is made of. */
export interface ShortcutKeeperOptions {
  options: ShortcutOptions;
  routing: RoutingMode;
  registry: ShortcutRegistry;
  plane: ShortcutPlane;
  datapath: HubDatapath;
  log: Logger;
  /**
   * A hub alone keeps every shortcut in the registry; a hub of a cluster only those whose both ends
   * it has served since it started (the other hubs keep theirs).
   */
  alone: boolean;
  /** Default SHORTCUT_TICK_MS. */
  tickMs?: number;
  /** Default SHORTCUT_VERIFY_MS. */
  verifyMs?: number;
  /** Default Date.now. */
  clock?: () => number;
}

/** One pair's traffic through the hub: both ways' bytes since the keeper first saw it, and its rate. */
interface PairTraffic {
  ends: readonly [string, string];
  bytes: number;
  rate: PairRate;
  lastBytesAt: number;
}

/**
 * Carries out the shortcut decisions on a running hub, once a second: drains each connected
 * member's destination tally (the hub's datapath counts it on the fast path and in JS), maps the
 * few destinations to members, folds the pairs' bytes into rates, runs `planShortcuts`, and
 * carries the plan out. A shortcut is made in the registry and pushed to both ends without routes;
 * its routes go in only once both members report its tunnel up, and a shortcut that is not up
 * within `verifyMs` fails (`symmetric-nat` when an end's NAT changed its port and both ends are
 * behind NATs, else `unanswered`) and waits out its backoff. Removal takes the routes out first,
 * then the link. Operator links are never touched.
 */
export class ShortcutKeeper implements ShortcutLinks {
  private readonly shortcuts = new Map<number, LiveShortcut>();
  private readonly pairs = new Map<string, PairTraffic>();
  private readonly failures = new Map<string, ShortcutFailure>();
  private readonly counts: ShortcutCounts = { made: 0, failed: {}, removed: {} };
  private readonly tickMs: number;
  private readonly verifyMs: number;
  private readonly clock: () => number;
  private view: Promise<{ view: ShortcutRegistryView; owners: DestinationOwners }> | undefined;
  /** When the tallies were last drained: a new pair's first bytes were counted since then. */
  private drainedAt: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  /** Members whose session started since the registry view was read: one may be new to the registry (it joined through this hub). */
  private readonly connectedSinceView = new Set<string>();
  private readonly noteConnected = (message: unknown): void => {
    this.connectedSinceView.add((message as { peer: string }).peer);
  };

  constructor(private readonly options: ShortcutKeeperOptions) {
    this.tickMs = options.tickMs ?? SHORTCUT_TICK_MS;
    this.verifyMs = options.verifyMs ?? SHORTCUT_VERIFY_MS;
    this.clock = options.clock ?? Date.now;
    sessionEstablished.subscribe(this.noteConnected);
  }

  /** Starts deciding once every tick. */
  start(): void {
    this.timer = setInterval(() => this.wake(), this.tickMs);
    this.timer.unref();
  }

  /** Stops deciding; resolves once a round under way is done. Shortcuts stay in the registry. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    sessionEstablished.unsubscribe(this.noteConnected);
    await this.running;
  }

  /** Another process changed the registry: read it again next round. */
  registryChanged(): void {
    this.view = undefined;
  }

  /** Runs a round now (or right after the one under way). Resolves when it is done. */
  wake(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.round().catch((err: unknown) => {
      this.options.log.warn({ code: isTunnelError(err) ? err.code : undefined, err: (err as Error).message }, 'shortcut round failed');
    }).finally(() => {
      this.running = undefined;
      if (this.again && !this.stopped) {
        this.again = false;
        void this.wake();
      }
    });
    return this.running;
  }

  routed(linkId: number): boolean {
    return this.shortcuts.get(linkId)?.routed ?? false;
  }

  reported(peer: string, links: readonly ShortcutLinkReport[]): void {
    const now = this.clock();
    for (const report of links) {
      const shortcut = [...this.shortcuts.values()].find((candidate) => candidate.ends.some((end, i) =>
        end === peer && tunnelInterfaceName(candidate.ends[1 - i]!) === report.tunnel));
      if (!shortcut) continue;
      const end = shortcut.ends[0] === peer ? 0 : 1;
      const outcome = shortcut.report(end, report.state, report.rxBytes + report.txBytes, now);
      if (outcome === 'verified') {
        this.options.log.info({ ends: shortcut.ends, ms: now - shortcut.createdAt }, 'shortcut verified both ways: its routes go in');
        void this.refresh(shortcut.ends);
      } else if (outcome === 'lost' && this.justMoved(shortcut, now)) {
        // Re-aiming a tunnel at a moved end takes it down a moment (a FOU end waits for a new hello).
        shortcut.verifyAgain(now + this.verifyMs);
        shortcut.movedAt = now;
        this.options.log.info({ ends: shortcut.ends, peer, endpoints: shortcut.endpoints }, 'shortcut end moved: routes out until both ends report it up again');
        void this.refresh(shortcut.ends);
      } else if (outcome === 'lost') {
        this.options.log.warn({ ends: shortcut.ends, peer }, 'shortcut reported down: removing it, traffic goes back through the hub');
        this.recordFailure(shortcut.ends, 'unanswered', shortcut.endpoints, now);
        void this.wake();
      }
    }
  }

  /**
   * True when an end of the shortcut moved within the verify window: the hub sees it elsewhere
   * than the shortcut was punched for (the registry's reconfiguration re-aimed both ends before
   * the keeper's round), or the keeper punched it again lately. Its endpoints follow the move.
   */
  private justMoved(shortcut: LiveShortcut, now: number): boolean {
    const live = this.options.plane.liveState();
    const endpoints: PairEndpoints = [this.endpointOf(shortcut.ends[0], live.get(shortcut.ends[0])), this.endpointOf(shortcut.ends[1], live.get(shortcut.ends[1]))];
    const moved = endpoints.some((endpoint, i) => endpoint !== null && endpoint !== shortcut.endpoints[i]);
    if (moved) shortcut.endpoints = endpoints;
    return moved || (shortcut.movedAt !== null && now - shortcut.movedAt <= this.verifyMs);
  }

  /** What the keeper counted since the hub started. */
  counters(): ShortcutCounts {
    return { made: this.counts.made, failed: { ...this.counts.failed }, removed: { ...this.counts.removed } };
  }

  /** A shortcut's live state, or undefined when this hub does not keep it. */
  statusOf(linkId: number): ShortcutLiveStatus | undefined {
    const shortcut = this.shortcuts.get(linkId);
    if (!shortcut) return undefined;
    const now = this.clock();
    return {
      state: shortcut.failed !== null ? 'failed' : shortcut.routed ? 'up' : 'verifying',
      rate: Math.round(shortcut.bitsPerSecond(now)),
      lastActiveAt: new Date(shortcut.lastActiveAt).toISOString(),
      verifiedAt: shortcut.verifiedAt === null ? null : new Date(shortcut.verifiedAt).toISOString(),
      failed: shortcut.failed,
    };
  }

  /** Every shortcut this hub keeps with its rate in bits per second, from its ends' reports. */
  rates(): { linkId: number; rate: number }[] {
    const now = this.clock();
    return [...this.shortcuts.values()].map((shortcut) => ({ linkId: shortcut.linkId, rate: Math.round(shortcut.bitsPerSecond(now)) }));
  }

  /** The pairs kept on the hub after a failed shortcut, with why and until when. */
  failuresNow(): ShortcutFailureStatus[] {
    return [...this.failures].map(([key, failure]) => ({
      ends: key.split(' ') as [string, string], reason: failure.reason, failures: failure.failures,
      failedAt: new Date(failure.failedAt).toISOString(), retryAt: new Date(failure.retryAt).toISOString(),
    }));
  }

  /** One round: read, observe, decide, carry out. */
  private async round(): Promise<void> {
    const mode = this.options.options.mode;
    const busy = mode === 'auto' ? this.options.datapath.drainBusyDestinations?.() : undefined;
    let { view, owners } = await this.readView();
    if (this.quiet(busy, view)) {
      this.drainedAt = this.clock();
      return;
    }
    const live = this.options.plane.liveState();
    // A member that joined through this hub is written by this process, which the change watcher does not report.
    if (this.joinedSinceView(view)) {
      this.view = undefined;
      ({ view, owners } = await this.readView());
    }
    const now = this.clock();
    if (mode === 'auto') this.observeTraffic(live, owners, now, busy);
    const involved = new Set([...this.pairs.values(), ...view.links].flatMap((entry) => entry.ends));
    const members = this.members(view, live, involved);
    const links = this.existingLinks(view, members, live, now);
    for (const shortcut of this.shortcuts.values()) {
      if (shortcut.overdue(now)) this.fail(shortcut, this.overdueReason(shortcut, live), now);
    }
    const linked = new Set(view.links.map((link) => pairKey(link.ends)));
    const plan = planShortcuts({
      options: this.options.options, now, members,
      links: links.map((link) => ({ ...link, failed: this.shortcuts.get(link.linkId)?.failed ?? null })),
      pairs: [...this.pairs.values()].map((pair) => ({
        ends: pair.ends, rate: pair.rate, allowed: this.options.routing === 'static', linked: linked.has(pairKey(pair.ends)),
        ...(this.failures.has(pairKey(pair.ends)) ? { failure: this.failures.get(pairKey(pair.ends))! } : {}),
      })),
    });
    for (const removal of plan.remove) await this.remove(removal);
    for (const candidate of plan.create) await this.create(candidate, members, live, now);
    for (const link of plan.rePunch) await this.rePunch(link, members);
    await this.touch(now);
  }

  /**
   * Nothing to decide: no member's tunnel carried traffic toward another member since the last
   * round, no pair is being watched and there is no shortcut. The round then skips walking every
   * member, which on an idle hub of thousands is most of what it would cost.
   */
  private quiet(busy: BusyDestinations | undefined, view: ShortcutRegistryView): boolean {
    return (busy === undefined || busy.size === 0) && this.pairs.size === 0 && this.shortcuts.size === 0 &&
      !view.links.some((link) => link.kind === 'shortcut');
  }

  /**
   * True when a member that connected since the view was read is missing from it (it joined
   * through this hub, a write the change watcher does not report); else forgets them, as the view
   * holds them all. Only members that connected are looked at, not every live one.
   */
  private joinedSinceView(view: ShortcutRegistryView): boolean {
    for (const peer of this.connectedSinceView) if (!view.peers.has(peer)) return true;
    this.connectedSinceView.clear();
    return false;
  }

  /** The registry's view and the destination owners it gives, read once per change. */
  private readView(): Promise<{ view: ShortcutRegistryView; owners: DestinationOwners }> {
    if (!this.view) {
      // Whoever connected before this read is in what it reads (a peer's row is written before its session starts).
      this.connectedSinceView.clear();
      const reading = this.options.registry.view().then((view) => ({ view, owners: new DestinationOwners(view) }));
      reading.catch(() => {
        if (this.view === reading) this.view = undefined;
      });
      this.view = reading;
    }
    return this.view;
  }

  /** Drains the destination tallies of connected members that received anything into the pairs' byte counts and rates. */
  private observeTraffic(live: ReadonlyMap<string, PeerLiveState>, owners: DestinationOwners, now: number, busy: BusyDestinations | undefined): void {
    const moved = new Map<string, { ends: readonly [string, string]; bytes: number }>();
    for (const [member, counts] of this.drainTallies(live, busy)) {
      for (const { address, bytes } of counts) {
        const owner = owners.ownerOf(address);
        if (owner === null || owner === member) continue;
        const key = pairKey([member, owner]);
        const entry = moved.get(key) ?? { ends: [member, owner] as const, bytes: 0 };
        entry.bytes += bytes;
        moved.set(key, entry);
      }
    }
    const threshold = this.options.options.threshold.bitsPerSecond;
    // A round between ticks (a report woke it) drained less than a tick's worth: rates divide by the real interval.
    const since = this.drainedAt ?? now - this.tickMs;
    this.drainedAt = now;
    for (const [key, { ends, bytes }] of moved) {
      if (!this.pairs.has(key)) this.pairs.set(key, { ends: [...ends].sort() as [string, string], bytes: 0, rate: observePairTraffic(undefined, { at: since, bytes: 0 }, threshold), lastBytesAt: now });
      const pair = this.pairs.get(key)!;
      pair.bytes += bytes;
      pair.lastBytesAt = now;
    }
    for (const [key, pair] of this.pairs) {
      if (!moved.has(key) && now - pair.lastBytesAt > PAIR_FORGET_MS) {
        this.pairs.delete(key);
        continue;
      }
      pair.rate = observePairTraffic(pair.rate, { at: now, bytes: pair.bytes }, threshold);
    }
  }

  /**
   * The destinations each connected member's tunnel received toward since the last round: only
   * tunnels that received anything are drained, so a quiet hub costs one read a round, not one
   * per member, and the members are walked only when some tunnel was busy.
   */
  private drainTallies(live: ReadonlyMap<string, PeerLiveState>, busy: BusyDestinations | undefined): [string, { address: string; bytes: number }[]][] {
    const drained: [string, { address: string; bytes: number }[]][] = [];
    if (busy === undefined || busy.size === 0) return drained;
    for (const [member, state] of live) {
      const counts = state.connected ? busy.get(tunnelInterfaceName(member)) : undefined;
      if (counts !== undefined) drained.push([member, counts]);
    }
    return drained;
  }

  /** The members the round looks at (ends of busy pairs and of links), as the decisions see them. */
  private members(view: ShortcutRegistryView, live: ReadonlyMap<string, PeerLiveState>, names: ReadonlySet<string>): Map<string, ShortcutMember> {
    const members = new Map<string, ShortcutMember>();
    for (const name of names) {
      const peer = view.peers.get(name);
      if (!peer) continue;
      const state = live.get(name);
      members.set(name, {
        name,
        shortcuts: peer.shortcuts,
        // A router reporting over a shell (rendered kernel config) has no session to verify a path with.
        runsClient: state !== undefined && state.session !== 'shell',
        state: peer.revoked ? 'revoked' : state?.connected ? 'connected' : 'left',
        endpoint: this.endpointOf(name, state),
      });
    }
    return members;
  }

  /** Where the hub verified a member: its hub link's bound mapping behind a NAT, else its control connection's address. */
  private endpointOf(name: string, state: PeerLiveState | undefined): string | null {
    const binding = this.options.datapath.binding?.(tunnelInterfaceName(name));
    if (binding?.state === 'bound' && binding.address !== null && binding.port !== null) {
      return isIPv6(binding.address) ? `[${binding.address}]:${binding.port}` : `${binding.address}:${binding.port}`;
    }
    return state?.seen ?? null;
  }

  /** The peer<->peer links the round decides about, with what this hub knows of its shortcuts. */
  private existingLinks(view: ShortcutRegistryView, members: ReadonlyMap<string, ShortcutMember>, live: ReadonlyMap<string, PeerLiveState>, now: number): ExistingLink[] {
    const present = new Set<number>();
    const links: ExistingLink[] = [];
    for (const link of view.links) {
      // A hub of a cluster leaves the shortcuts of members it never served to the hubs serving them.
      if (link.kind === 'shortcut' && !this.options.alone && !link.ends.every((end) => live.has(end))) continue;
      present.add(link.linkId);
      let shortcut = this.shortcuts.get(link.linkId);
      if (!shortcut && link.kind === 'shortcut') {
        // Made before this hub started (or by another process): verified afresh.
        shortcut = new LiveShortcut(link.linkId, link.ends, now, now + this.verifyMs, this.endpointsOf(link.ends, members), link.lastActiveAt ?? link.createdAt);
        this.shortcuts.set(link.linkId, shortcut);
      }
      links.push({
        linkId: link.linkId, ends: link.ends, kind: link.kind,
        lastActiveAt: shortcut?.lastActiveAt ?? link.lastActiveAt ?? link.createdAt,
        bitsPerSecond: shortcut?.bitsPerSecond(now) ?? 0,
        endpoints: shortcut?.endpoints ?? this.endpointsOf(link.ends, members),
        failed: shortcut?.failed ?? null,
        allowed: this.options.routing === 'static',
      });
    }
    // Removed by someone else (`link remove`, a peer removed): forgotten here too.
    for (const linkId of this.shortcuts.keys()) if (!present.has(linkId)) this.shortcuts.delete(linkId);
    return links;
  }

  private endpointsOf(ends: readonly [string, string], members: ReadonlyMap<string, ShortcutMember>): PairEndpoints {
    return [members.get(ends[0])?.endpoint ?? null, members.get(ends[1])?.endpoint ?? null];
  }

  /**
   * Why a shortcut was not up in time: through two NATs, `symmetric-nat` when either NAT gave its
   * member's socket another port than the member's own (a mapping per destination, so the one the
   * hub saw is not the one the other member gets); else `unanswered`.
   */
  private overdueReason(shortcut: LiveShortcut, live: ReadonlyMap<string, PeerLiveState>): ShortcutFailureReason {
    const states = shortcut.ends.map((end) => live.get(end));
    const natted = states.every((state) => state !== undefined && state.reported !== null && state.reported !== state.seen);
    if (!natted) return 'unanswered';
    const portChanged = shortcut.ends.some((end, i) => {
      const binding = this.options.datapath.binding?.(tunnelInterfaceName(end));
      const encap = states[i]?.encap;
      const ownPort = encap === 'gue' ? DEFAULT_UDP_PORT.gue : DEFAULT_UDP_PORT.fou;
      return binding?.port !== null && binding?.port !== undefined && binding.port !== ownPort;
    });
    return portChanged ? 'symmetric-nat' : 'unanswered';
  }

  /** Marks a shortcut failed and records the pair's backoff; the next plan removes it. */
  private fail(shortcut: LiveShortcut, reason: ShortcutFailureReason, now: number): void {
    if (shortcut.failed === null) shortcut.failed = reason;
    this.recordFailure(shortcut.ends, shortcut.failed, shortcut.endpoints, now);
  }

  private recordFailure(ends: readonly [string, string], reason: ShortcutFailureReason, endpoints: PairEndpoints, now: number): void {
    const key = pairKey(ends);
    const failure = recordShortcutFailure(this.failures.get(key), { reason, now, endpoints });
    this.failures.set(key, failure);
    this.counts.failed[reason] = (this.counts.failed[reason] ?? 0) + 1;
    this.options.log.warn({ ends, reason, failures: failure.failures, retryInMs: failure.retryAt - now }, 'shortcut failed: the pair stays on the hub');
  }

  /** Makes a candidate's shortcut: the registry link, then both ends' configs (without routes). */
  private async create(candidate: ShortcutCandidate, members: ReadonlyMap<string, ShortcutMember>, live: ReadonlyMap<string, PeerLiveState>, now: number): Promise<void> {
    const ends = [...candidate.ends].sort() as [string, string];
    const endpoints = this.endpointsOf(ends, members);
    const unreachable = this.unreachableReason(ends, live);
    if (unreachable !== null) {
      this.recordFailure(ends, unreachable, endpoints, now);
      return;
    }
    let linkId: number;
    try {
      ({ linkId } = await this.options.registry.addShortcut(ends[0], ends[1], candidate.why));
    } catch (err) {
      this.options.log.warn({ ends, code: isTunnelError(err) ? err.code : undefined, err: (err as Error).message }, 'shortcut not made');
      this.view = undefined;
      return;
    }
    this.view = undefined;
    const made = this.clock();
    this.shortcuts.set(linkId, new LiveShortcut(linkId, ends, made, made + this.verifyMs, endpoints));
    this.counts.made += 1;
    this.options.log.info({ ends, why: candidate.why, linkId }, 'shortcut made: both ends get its tunnel; traffic stays on the hub until both report it up');
    await this.refresh(ends);
  }

  /** Why two members could not get a tunnel at all (as the plane would find), or null when they can try. */
  private unreachableReason(ends: readonly [string, string], live: ReadonlyMap<string, PeerLiveState>): ShortcutFailureReason | null {
    const facts = ends.map((name) => {
      const state = live.get(name);
      const binding = this.options.datapath.binding?.(tunnelInterfaceName(name));
      const mapped = binding?.state === 'bound' && binding.address !== null && binding.port !== null ? { address: binding.address, port: binding.port } : null;
      return { name, seen: state?.seen ?? null, reported: state?.reported ?? null, mapped };
    });
    const path = choosePeerLinkPath(null, facts[0]!, facts[1]!, false, true);
    if (path.reachable) return null;
    return path.reason === 'address-families-differ' ? 'address-families-differ' : 'endpoint-unknown';
  }

  /** Removes a shortcut: its routes first (both ends' configs without them), then the link. */
  private async remove(removal: ShortcutRemoval): Promise<void> {
    const { link, reason } = removal;
    const shortcut = this.shortcuts.get(link.linkId);
    if (shortcut?.routed) {
      shortcut.routed = false;
      await this.refresh(link.ends);
    }
    try {
      await this.options.registry.removeShortcut(link.ends[0], link.ends[1], reason);
    } catch (err) {
      // Gone already (`link remove`, a peer removed): nothing is left to take down.
      if (!isTunnelError(err, 'ERR_LINK_NOT_FOUND') && !isTunnelError(err, 'ERR_PEER_NOT_FOUND')) throw err;
    }
    this.view = undefined;
    this.shortcuts.delete(link.linkId);
    this.count(reason);
    this.options.log.info({ ends: link.ends, reason, linkId: link.linkId }, 'shortcut removed');
    await this.refresh(link.ends);
  }

  private count(reason: ShortcutRemovalReason): void {
    this.counts.removed[reason] = (this.counts.removed[reason] ?? 0) + 1;
  }

  /** An end moved: both ends are configured again toward where they are now. */
  private async rePunch(link: ExistingLink, members: ReadonlyMap<string, ShortcutMember>): Promise<void> {
    const shortcut = this.shortcuts.get(link.linkId);
    if (!shortcut) return;
    shortcut.endpoints = this.endpointsOf(link.ends, members);
    shortcut.movedAt = this.clock();
    this.options.log.info({ ends: link.ends, endpoints: shortcut.endpoints }, 'shortcut end moved: punching it again');
    await this.refresh(link.ends);
  }

  /** Writes the last activity of busy shortcuts to the registry, at most once a minute each. */
  private async touch(now: number): Promise<void> {
    for (const shortcut of this.shortcuts.values()) {
      if (shortcut.lastActiveAt <= shortcut.touchedAt || now - shortcut.touchedAt < TOUCH_EVERY_MS) continue;
      shortcut.touchedAt = shortcut.lastActiveAt;
      try {
        await this.options.registry.touchShortcut(shortcut.ends[0], shortcut.ends[1], shortcut.lastActiveAt);
      } catch (err) {
        this.options.log.debug({ ends: shortcut.ends, err: (err as Error).message }, 'shortcut activity not recorded');
      }
    }
  }

  private async refresh(ends: readonly [string, string]): Promise<void> {
    await this.options.plane.refresh(ends);
  }
}

