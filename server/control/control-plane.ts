import { randomBytes } from 'node:crypto';
import { isIPv6 } from 'node:net';
import type { Logger } from 'pino';
import { TunnelError, isTunnelError } from '../../shared/errors.js';
import type { Encapsulation } from '../../shared/net/encapsulation.js';
import { tunnelInterfaceName } from '../../shared/net/tunnel-interface-name.js';
import type { MessageOf, WireLinkPath, WireLinkTable, WireTunnelSpec } from '../../shared/protocol/index.js';
import { HUB_END_NAME } from '../registry/peer-name.js';
import type { RouteRequestOutcome } from '../registry/peer-routing-store.js';
import { memberRouteSpecs, type MemberRouteSpecs, type RoutingMode } from '../routing/member-route-specs.js';
import { hubUnreachableRoutes, type RoutingFacts } from '../routing/member-routes.js';
import type { AuthenticatedPeer } from './authenticated-peer.js';
import { chooseEncapsulation, type ProbeResults } from './choose-encapsulation.js';
import type { ControlRegistry, PeerLinkFacts } from './control-registry.js';
import type { LinkTable } from '../registry/link-table.js';
import { ControlSession, type SessionEvents, type SessionTiming } from './control-session.js';
import { sessionAcked, sessionClosed, sessionEstablished, sessionReconfigured } from './diagnostics.js';
import type { HubDatapath } from './hub-datapath.js';
import { buildHubLinkSpecs } from './hub-link-specs.js';
import { buildPeerLinkEnd, choosePeerLinkPath, type PeerEndFacts } from './peer-link-specs.js';
import { redactBindingKey } from './redact-binding-keys.js';
import type { SessionTransport } from './session-transport.js';
import { WorkSlots } from './work-slots.js';

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
  /** The hub link's outer family: the family the member's control connection came over. */
  outerFamily: 'ipv4' | 'ipv6';
}

/** Who this hub is on the outer paths, beyond its registry endpoint. */
export interface HubIdentity {
  /** The hub's stable id (its SSH host key fingerprint): gretap MAC addresses derive from it. */
  hubId: string;
  /**
   * The hub's global IPv6 address, or null: told to members in `welcome`, and the local end of
   * every hub link a member opened over IPv6.
   */
  endpoint6: string | null;
}

/** Path settings of every link the hub issues. */
export interface PathOptions {
  /** Seconds between path keepalives on both ends; they also keep NAT mappings alive (≤ 25 s). */
  keepaliveInterval: number;
}

/** Path keepalives every 10 s: well inside the 30 s a Linux NAT keeps an unreplied UDP mapping. */
export const DEFAULT_PATH_OPTIONS: PathOptions = { keepaliveInterval: 10 };

/** The outer family of a link whose member was seen at `seen`. */
function familyOf(seen: string): 'ipv4' | 'ipv6' {
  return isIPv6(seen) ? 'ipv6' : 'ipv4';
}

/**
 * Reconfigurations that run at once. Each waits on registry round trips; a few in flight keep the
 * registry's connections busy, and more only make every one of them wait longer.
 */
const CONCURRENT_RECONFIGURATIONS = 16;

/** The registry reads all members' specs share, kept until the registry changes. */
type SharedRead = 'routingFacts' | 'hubEndpoint' | 'clusterView';

/** The session id shown for a peer known only from shell `endpoint` reports. */
const SHELL_SESSION = 'shell';

/**
 * The one session handler both front doors reach. It keeps the newest session per peer, records
 * endpoints, chooses each link's encapsulation (GRE, or FOU/GUE through NATs and unanswered
 * probes), and on every change issues new versioned specs: the hub's own end is applied to the
 * datapath at once, the peer's config (hub link plus peer<->peer links) is pushed and its ack
 * recorded, and a peer's endpoint change is pushed to every member linked to it.
 */
export class ControlPlane implements SessionEvents {
  private readonly sessions = new Map<string, ControlSession>();
  private readonly live = new Map<string, PeerLiveState>();
  private readonly auth = new Map<ControlSession, AuthenticatedPeer['method']>();
  /** Work per peer runs in order, so two quick reports never apply out of order. */
  private readonly queues = new Map<string, Promise<TunnelError | undefined>>();
  /** Hub ends brought up by this process (the datapath starts empty on every start). */
  private readonly running = new Set<string>();
  /** Per peer<->peer link, the key both ends' UDP hellos are authenticated with (made here, never stored). */
  private readonly linkKeys = new Map<number, string>();
  /** Per peer<->peer link, the path last recorded by this process. */
  private readonly linkPaths = new Map<number, string>();
  /** Prefixes each member advertised that the hub refused (nothing is stored for those). */
  private readonly routeRefusals = new Map<string, RouteRequestOutcome[]>();
  /** Reads every member's specs share (pools and approved prefixes, the hub's endpoint, the cluster view), cleared by reconcile. */
  private readonly shared = new Map<SharedRead, Promise<unknown>>();
  /** Work of all peers together: a few at a time, so each member's config goes out as soon as its own work is done. */
  private readonly slots = new WorkSlots(CONCURRENT_RECONFIGURATIONS);
  private closing = false;

  constructor(
    private readonly registry: ControlRegistry,
    private readonly datapath: HubDatapath,
    private readonly timing: SessionTiming,
    private readonly log: Logger,
    private readonly paths: PathOptions = DEFAULT_PATH_OPTIONS,
    private readonly routing: RoutingMode = 'static',
    private readonly identity: HubIdentity = { hubId: '', endpoint6: null },
  ) {}

  /** Creates the session for a freshly authenticated connection; a peer's older session is closed. */
  attach(peer: AuthenticatedPeer, transport: SessionTransport): ControlSession {
    const session = new ControlSession(peer.name, transport, this.timing, this, this.identity.endpoint6);
    this.auth.set(session, peer.method);
    if (this.closing) {
      session.close(new TunnelError('ERR_CLOSED', 'the hub is shutting down'));
      return session;
    }
    const previous = this.sessions.get(peer.name);
    this.sessions.set(peer.name, session);
    previous?.close(new TunnelError('ERR_CLOSED', 'replaced by a newer session of the same peer'));
    return session;
  }

  /** Live state of every peer that connected (or reported over a shell) since the hub started. */
  liveState(): ReadonlyMap<string, PeerLiveState> {
    return this.live;
  }

  /** The path keepalive interval the hub issues (seconds). */
  get keepaliveInterval(): number {
    return this.paths.keepaliveInterval;
  }

  /** Closes every session and waits for queued reconfigurations. */
  async close(): Promise<void> {
    this.closing = true;
    for (const session of this.sessions.values()) session.close(new TunnelError('ERR_CLOSED', 'the hub is shutting down'));
    await Promise.all(this.queues.values());
  }

  /**
   * A shell `endpoint` report (stock OpenSSH, no protocol session): `seen` is the address the SSH
   * connection comes from, so it is verified. Reconfigures the hub's end of the hub<->peer link and
   * every member linked to the peer; resolves once applied, or rejects with why not.
   */
  async reportFromShell(peer: string, seen: string): Promise<void> {
    const now = Date.now();
    const state = this.live.get(peer);
    if (state?.connected) {
      if (state.seen !== seen) state.probes = {};
      state.seen = seen;
      state.outerFamily = familyOf(seen);
      state.lastSeen = now;
    } else {
      this.live.set(peer, {
        connected: false, transport: 'ssh', auth: 'ssh-key', session: SHELL_SESSION, seen, reported: seen,
        connectedAt: now, lastSeen: now, lastError: null, probes: state?.seen === seen ? state.probes : {},
        encap: state?.encap ?? null, encapReason: state?.encapReason ?? null, outerFamily: familyOf(seen),
      });
    }
    const error = await this.enqueue(peer, async () => {
      await this.registry.claimSession(peer);
      await this.reconfigure(peer, true, true);
    });
    if (error) throw error;
  }

  /**
   * Brings every connected member in line with the registry after another process changed it
   * (`link add/remove`, `peer pin`, `peer remove`, `peer revoke`): specs that did not change are
   * not re-issued; a removed or revoked peer's session is closed and the hub's end taken down.
   */
  async reconcile(): Promise<void> {
    this.shared.clear();
    await this.routingFacts();
    const work = [...this.live.keys()].map((peer) => this.enqueue(peer, () => this.reconfigure(peer, false)));
    await Promise.all(work);
  }

  established(session: ControlSession, hello: MessageOf<'hello'>): void {
    const seen = session.transport.remoteAddress;
    const previous = this.live.get(session.peer);
    this.live.set(session.peer, {
      connected: true, transport: session.transport.kind, auth: this.auth.get(session) ?? 'ssh-key', session: session.id,
      seen, reported: hello.endpoint, connectedAt: session.startedAt, lastSeen: Date.now(), lastError: null,
      // A member that reconnects from the same address keeps what its probes found.
      probes: previous?.seen === seen && previous.reported === hello.endpoint ? previous.probes : {},
      encap: previous?.encap ?? null, encapReason: previous?.encapReason ?? null, outerFamily: familyOf(seen),
    });
    sessionEstablished.publish({ peer: session.peer, session: session.id, transport: session.transport.kind, seen, reported: hello.endpoint });
    this.log.info({ peer: session.peer, session: session.id, transport: session.transport.kind, seen, reported: hello.endpoint, software: hello.software }, 'session established');
    this.enqueueFor(session, async () => {
      // In a cluster this hub serves the member from now on; the hub that served it before lets go.
      await this.registry.claimSession(session.peer);
      if (hello.advertise !== undefined) await this.recordAdvertised(session.peer, hello.advertise);
      await this.reconfigure(session.peer, true, true);
    });
  }

  reported(session: ControlSession, address: string): void {
    const state = this.live.get(session.peer);
    if (state?.session === session.id) {
      if (state.reported !== address) state.probes = {};
      state.reported = address;
      state.lastSeen = session.lastSeen;
    }
    this.enqueueFor(session, () => this.reconfigure(session.peer, true));
  }

  probed(session: ControlSession, probe: MessageOf<'probe'>): void {
    const state = this.live.get(session.peer);
    if (state?.session !== session.id || probe.tunnel !== tunnelInterfaceName(HUB_END_NAME)) return;
    // A probe of an encapsulation the hub link no longer runs is stale: the hub moved on already.
    if (state.encap !== probe.encap || state.probes[probe.encap as keyof ProbeResults] === probe.answered) return;
    state.probes = { ...state.probes, [probe.encap]: probe.answered };
    this.log.info({ peer: session.peer, encap: probe.encap, answered: probe.answered }, 'path probe reported');
    this.enqueueFor(session, () => this.reconfigure(session.peer, true));
  }

  acked(session: ControlSession, version: number): void {
    this.enqueueFor(session, async () => {
      await this.registry.recordPeerAck(session.peer, version);
      sessionAcked.publish({ peer: session.peer, version });
    });
  }

  clientError(session: ControlSession, code: string, message: string): void {
    this.log.warn({ peer: session.peer, code, reason: message }, 'peer reported an error');
    const state = this.live.get(session.peer);
    if (state?.session === session.id) state.lastError = `${code}: ${message}`;
  }

  closed(session: ControlSession, error: TunnelError | undefined): void {
    this.auth.delete(session);
    if (this.sessions.get(session.peer) !== session) return;
    this.sessions.delete(session.peer);
    const state = this.live.get(session.peer);
    if (state?.session === session.id) {
      state.connected = false;
      state.lastSeen = session.lastSeen;
      if (error) state.lastError = `${error.code}: ${error.message}`;
    }
    sessionClosed.publish({ peer: session.peer, session: session.id, code: error?.code ?? null });
    this.log.info({ peer: session.peer, session: session.id, code: error?.code }, 'session closed');
  }

  /** Queues work for the session's peer; a failure closes that session with the coded error. */
  private enqueueFor(session: ControlSession, work: () => Promise<void>): void {
    void this.enqueue(session.peer, work).then((error) => {
      if (error) session.close(error);
    });
  }

  /** Runs `work` after the peer's earlier work; resolves with the error it failed with, if any. */
  private enqueue(peer: string, work: () => Promise<void>): Promise<TunnelError | undefined> {
    const previous = this.queues.get(peer) ?? Promise.resolve(undefined);
    const next = previous.then(() => this.slots.run(work)).then(() => undefined, (err: unknown) => {
      if (!isTunnelError(err)) this.log.error({ err, peer }, 'reconfiguration failed');
      else this.log.warn({ peer, code: err.code, reason: err.message }, 'reconfiguration failed');
      return isTunnelError(err) ? err : new TunnelError('ERR_SYSTEM', 'reconfiguration failed', { cause: err });
    });
    this.queues.set(peer, next);
    void next.then(() => {
      if (this.queues.get(peer) === next) this.queues.delete(peer);
    });
    return next;
  }

  /** Where the hub believes a peer is: live state first, else the registry's last verified address. */
  private async endFacts(peer: string): Promise<PeerEndFacts> {
    const state = this.live.get(peer);
    return { name: peer, seen: state?.seen ?? await this.registry.latestEndpoint(peer), reported: state?.reported ?? null };
  }

  /**
   * Recomputes everything one peer runs and issues it: the hub link (encapsulation chosen from the
   * pin, the NAT check and the probes), then each peer<->peer link. With `cascade`, members linked
   * to this peer are reconfigured too, since they aim at its endpoint. `claimedNow`: this hub has
   * just claimed the peer's session, so it serves it (a later claim elsewhere is announced, and the
   * reconciliation it brings finds the move).
   */
  private async reconfigure(peer: string, cascade: boolean, claimedNow = false): Promise<void> {
    const state = this.live.get(peer);
    if (!state) return;
    const live = this.sessions.get(peer);
    const session = live && !live.isClosed ? live : undefined;
    const standing = await this.registry.peerStanding(peer);
    if (!standing) {
      this.live.delete(peer);
      session?.close(new TunnelError('ERR_PEER_NOT_FOUND', `peer "${peer}" was removed from the registry`));
      await this.removeHubEnd(peer);
      return;
    }
    if (standing.revocation) {
      session?.close(standing.revocation);
      await this.removeHubEnd(peer);
      return;
    }
    const elsewhere = claimedNow ? null : await this.registry.servedElsewhere(peer);
    if (elsewhere !== null) {
      // The member moved to another hub of the cluster: its end there replaces this one.
      this.live.delete(peer);
      session?.close(new TunnelError('ERR_CLOSED', `the member's session moved to hub ${elsewhere}`));
      await this.removeHubEnd(peer);
      this.log.info({ peer, hub: elsewhere }, 'member moved to another hub');
      return;
    }
    const { seen, reported } = state;
    const choice = chooseEncapsulation({ pinned: standing.pinnedEncap, seen, reported, probes: state.probes });
    const hubLink = await this.registry.hubLink(peer);
    const hubLinkId = hubLink.id;
    let { table } = hubLink;
    // A reconciliation that changes nothing writes nothing (commands refused meanwhile must find
    // the registry as it was, and a thousand members cost no thousand writes). The table carries
    // the recorded encapsulation: read again only when the record changed.
    if (state.encap !== choice.encap || state.encapReason !== choice.reason) {
      if (await this.registry.recordLinkPath(hubLinkId, choice.encap, choice.reason)) table = await this.registry.linkTable(hubLinkId);
    }
    state.encap = choice.encap;
    state.encapReason = choice.reason;
    // The link runs over the family the member reached the hub with.
    const ipv6 = isIPv6(seen);
    if (ipv6 && this.identity.endpoint6 === null) {
      throw new TunnelError('ERR_INVALID_ADDRESS', `${peer} connected over IPv6, but this hub has no IPv6 endpoint for tunnels (serve --endpoint6 ADDR): connect over IPv4`);
    }
    const specs = buildHubLinkSpecs(peer, table, {
      hub: ipv6 ? this.identity.endpoint6! : await this.perChange('hubEndpoint', () => this.registry.hubEndpoint()), seen, reported,
      keepaliveInterval: this.paths.keepaliveInterval, hubId: this.identity.hubId,
      ...(session ? { binding: { bindingId: hubLinkId, key: session.sessionKey.toString('base64url') } } : {}),
    });
    // The peer itself acted (hello, report, probe): its address was seen now.
    if (cascade) await this.registry.recordEndpoint(peer, seen);
    const tunnels: WireTunnelSpec[] = [specs.peerEnd];
    const links: WireLinkTable[] = [specs.table];
    const paths: WireLinkPath[] = [{ tunnel: specs.peerEnd.name, encap: specs.peerEnd.encap, reason: choice.reason, reachable: true }];
    const peerLinks = await this.registry.peerLinks(peer);
    for (const link of peerLinks) {
      const end = await this.peerLinkEnd(peer, link);
      if (end.spec) tunnels.push(end.spec);
      links.push(end.table);
      paths.push(end.path);
    }
    const routed = await this.routeSpecs(peer, table, peerLinks, tunnels);
    specs.hubEnd = { ...specs.hubEnd, ...routed.hubEnd };
    tunnels.forEach((tunnel, i) => {
      tunnels[i] = { ...tunnel, ...routed.tunnels.get(tunnel.name) };
    });
    const { advertised } = routed;
    const cluster = await this.perChange('clusterView', () => this.registry.clusterView());
    const issued = await this.registry.issueSpecs(peer, hubLinkId, redactBindingKey(specs.hubEnd),
      { tunnels: tunnels.map(redactBindingKey), links, paths, advertised, ...(cluster ? { cluster } : {}) }, reported);
    const hubApplied = issued.hubChanged || !this.running.has(specs.hubEnd.name);
    if (hubApplied) {
      await this.datapath.upsert(specs.hubEnd, peer);
      this.running.add(specs.hubEnd.name);
      await this.registry.recordHubApplied(hubLinkId, issued.hubVersion);
    }
    if (issued.hubChanged || issued.peerChanged) {
      sessionReconfigured.publish({ peer, hubVersion: issued.hubVersion, peerVersion: issued.peerVersion, remote: seen, reported, hubApplied, encap: choice.encap, encapReason: choice.reason });
      this.log.info({ peer, hubVersion: issued.hubVersion, peerVersion: issued.peerVersion, remote: seen, reported, encap: choice.encap, encapReason: choice.reason }, 'link reconfigured');
    }
    session?.pushConfig({ version: issued.peerVersion, tunnels, links, paths, advertised, ...(cluster ? { cluster } : {}) });
    if (!cascade) return;
    for (const link of peerLinks) {
      if (this.live.has(link.other)) void this.enqueue(link.other, () => this.reconfigure(link.other, false));
    }
  }

  /** Pools and approved prefixes; loading them also gives the hub its unreachable fallback routes. */
  private routingFacts(): Promise<RoutingFacts> {
    return this.perChange('routingFacts', () => this.registry.routingFacts().then(async (facts) => {
      if (this.routing === 'static') await this.datapath.routeUnreachable?.(hubUnreachableRoutes(facts));
      return facts;
    }));
  }

  /**
   * A read every member's specs share, made once per registry change (reconcile) rather than per
   * member: a burst of session starts reads it once. A failed read is not kept.
   */
  private perChange<T>(what: SharedRead, read: () => Promise<T>): Promise<T> {
    let value = this.shared.get(what) as Promise<T> | undefined;
    if (!value) {
      const started = read();
      this.shared.set(what, started);
      started.catch(() => {
        if (this.shared.get(what) === started) this.shared.delete(what);
      });
      value = started;
    }
    return value;
  }

  /** The routing parts of `peer`'s specs (server/routing) and what became of its prefixes. */
  private async routeSpecs(peer: string, table: LinkTable, peerLinks: PeerLinkFacts[], tunnels: WireTunnelSpec[]):
    Promise<MemberRouteSpecs & { advertised: RouteRequestOutcome[] }> {
    const record = await this.registry.memberRouting(peer);
    const issued = new Set(tunnels.map((tunnel) => tunnel.name));
    const links = peerLinks.map((link) => ({
      tunnel: tunnelInterfaceName(link.other),
      other: link.other,
      address: link.table.ends[0].name === peer ? link.table.ends[0].inner : link.table.ends[1].inner,
      issued: issued.has(tunnelInterfaceName(link.other)),
    }));
    const specs = memberRouteSpecs(this.routing, await this.routingFacts(), peer, record, table.ends[1].inner, links);
    const advertised = [...record.prefixes, ...(this.routeRefusals.get(peer) ?? [])].sort((a, b) => (a.prefix < b.prefix ? -1 : 1));
    return { ...specs, advertised };
  }

  /** Records a member's `--advertise` list; refusals are kept (and logged) to tell the member in its config. */
  private async recordAdvertised(peer: string, prefixes: readonly string[]): Promise<void> {
    const outcomes = await this.registry.recordRouteRequests(peer, prefixes);
    const refused = outcomes.filter((outcome) => outcome.state === 'refused');
    this.routeRefusals.set(peer, refused);
    for (const outcome of outcomes) {
      if (outcome.state === 'approved') continue;
      if (outcome.state === 'pending') this.log.info({ peer, prefix: outcome.prefix }, 'prefix advertised; pending approval (`tunnel-hub peer route approve`)');
      else this.log.warn({ peer, prefix: outcome.prefix, code: outcome.code, reason: outcome.message }, 'advertised prefix refused');
    }
  }

  /** Takes down the hub's end of a removed or revoked peer's hub link, if this process runs it. */
  private async removeHubEnd(peer: string): Promise<void> {
    const name = tunnelInterfaceName(peer);
    if (!this.running.has(name)) return;
    await this.datapath.remove(name);
    this.running.delete(name);
    this.log.info({ peer, tunnel: name }, 'hub end removed');
  }

  /** `peer`'s end of one peer<->peer link; records the link's path so both ends and tables agree. */
  private async peerLinkEnd(peer: string, link: PeerLinkFacts): Promise<ReturnType<typeof buildPeerLinkEnd>> {
    const [first, second] = [await this.endFacts(link.table.ends[0].name), await this.endFacts(link.table.ends[1].name)];
    const pinned = (await this.registry.pinnedEncap(first.name)) ?? (await this.registry.pinnedEncap(second.name));
    const choice = choosePeerLinkPath(pinned, first, second);
    const decided = `${choice.encap} ${choice.reason}`;
    if (this.linkPaths.get(link.linkId) !== decided) {
      await this.registry.recordLinkPath(link.linkId, choice.encap, choice.reason);
      this.linkPaths.set(link.linkId, decided);
    }
    const table = await this.registry.linkTable(link.linkId);
    const me = first.name === peer ? first : second;
    const other = me === first ? second : first;
    let key = this.linkKeys.get(link.linkId);
    if (key === undefined) {
      key = randomBytes(32).toString('base64url');
      this.linkKeys.set(link.linkId, key);
    }
    return buildPeerLinkEnd(table, me, other, choice, this.paths.keepaliveInterval, { bindingId: link.linkId, key }, this.identity.hubId);
  }
}
