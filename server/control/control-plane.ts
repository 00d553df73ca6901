import { randomBytes } from 'node:crypto';
import { isIPv6 } from 'node:net';
import type { Logger } from 'pino';
import { TunnelError, isTunnelError } from '../../shared/errors.js';
import type { Encapsulation } from '../../shared/net/encapsulation.js';
import { tunnelInterfaceName } from '../../shared/net/tunnel-interface-name.js';
import type { MessageOf } from '../../shared/protocol/index.js';
import { HUB_END_NAME } from '../registry/peer-name.js';
import type { EncryptSetting } from '../registry/peer-encryption-store.js';
import type { RoutingMode } from '../routing/member-route-specs.js';
import { hubUnreachableRoutes, type RoutingFacts } from '../routing/member-routes.js';
import type { AuthenticatedPeer } from './authenticated-peer.js';
import type { ProbeResults } from './choose-encapsulation.js';
import type { ControlRegistry, PeerLinkFacts } from './control-registry.js';
import { ControlSession, type SessionEvents } from './control-session.js';
import { SessionKeepalives, type SessionTiming } from './session-keepalives.js';
import { sessionAcked, sessionClosed, sessionEstablished, sessionReconfigured } from './diagnostics.js';
import type { HubDatapath } from './hub-datapath.js';
import type { LinkSaKeying } from './link-end-esp.js';
import { peerEncrypts } from './link-encryption.js';
import { LinkSaKeeper, type KeptLinkRequest, type KeptLinkStatus } from './link-sa-keeper.js';
import { HubDeviceError } from './hub-device-error.js';
import type { PeerEndFacts } from './peer-link-specs.js';
import { emptyPeerEntry, isIdle, type PeerEntry, type PeerLiveState } from './peer-entry.js';
import { PerChangeReads } from './per-change-reads.js';
import {
  planPeer, retirementOf, type GatheredPeerLink, type PeerConfiguration, type PeerFacts, type PeerRetirement, type PeerSnapshot,
  type PlanSettings,
} from './plan-peer.js';
import type { SessionTransport } from './session-transport.js';
import type { ShortcutLinks } from './shortcut-links.js';
import { WorkSlots } from './work-slots.js';

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

/** Who encrypts, and how often keys change (server/control/link-sa-keeper.ts). */
export interface EncryptionOptions {
  /** `serve --encrypt`: whether members running tunnel-client encrypt unless `peer set --encrypt` says otherwise. */
  byDefault: boolean;
  /** `serve --rekey-interval` in ms (default DEFAULT_REKEY_INTERVAL_MS). */
  rekeyIntervalMs?: number;
  /** How long an old inbound SA stays after a rekey switched senders (default DEFAULT_REKEY_GRACE_MS). */
  graceMs?: number;
}

/** What a control plane is built from; `paths`, `routing` and `identity` have defaults. */
export interface ControlPlaneOptions {
  registry: ControlRegistry;
  datapath: HubDatapath;
  timing: SessionTiming;
  log: Logger;
  /** Default DEFAULT_PATH_OPTIONS. */
  paths?: PathOptions;
  /** Default `static`. */
  routing?: RoutingMode;
  /** Default: an empty id and no IPv6 endpoint. */
  identity?: HubIdentity;
  /** Default: nothing encrypted unless `peer set --encrypt on`. */
  encryption?: EncryptionOptions;
  /** Whoever keeps the hub's shortcuts; absent: shortcuts are routed at once and reports go nowhere. */
  shortcuts?: ShortcutLinks;
}

/** The outer family of a link whose member was seen at `seen`. */
function familyOf(seen: string): 'ipv4' | 'ipv6' {
  return isIPv6(seen) ? 'ipv6' : 'ipv4';
}

/**
 * Reconfigurations that run at once. Each waits on registry round trips; a few in flight keep the
 * registry's connections busy, and more only make every one of them wait longer.
 */
const CONCURRENT_RECONFIGURATIONS = 16;

/** The session id shown for a peer known only from shell `endpoint` reports. */
const SHELL_SESSION = 'shell';

/** What this process keeps per peer<->peer link. */
interface PeerLinkState {
  /** The key both ends' UDP hellos are authenticated with (made here, never stored). */
  key: string;
  /** The path (pathText) this process last recorded, or undefined. */
  recordedPath: string | undefined;
}


/** A reconfiguration's view of the peer it works for, taken when it starts. */
interface Reconfiguration {
  entry: PeerEntry;
  live: PeerLiveState;
  /** The session open when it started: its key is in the specs, so the config goes to it. */
  session: ControlSession | undefined;
  snapshot: PeerSnapshot;
  /** The peer itself acted (hello, report, probe): record its address, then reconfigure the members linked to it. */
  cascade: boolean;
}

/**
 * The one session handler both front doors reach. It keeps the newest session per peer and, on
 * every change, reconfigures the peer in three steps: gather (registry reads), `planPeer` (pure:
 * encapsulations, specs, routes, or the peer's retirement), apply (record paths, issue versioned
 * specs, bring the hub's end up on the datapath, push the peer's config, cascade to linked members).
 */
export class ControlPlane implements SessionEvents {
  /** Everything held per peer: session, live state, work queue, hub end, refused prefixes. */
  private readonly entries = new Map<string, PeerEntry>();
  /** The peers whose entry has live state, kept in step with it (setLive): read by status and the shortcut keeper every round. */
  private readonly live = new Map<string, PeerLiveState>();
  /** Per peer<->peer link id. */
  private readonly peerLinks = new Map<number, PeerLinkState>();
  /** Hub-wide reads every member's specs share, cleared by reconcile. */
  private readonly reads = new PerChangeReads<'routingFacts' | 'hubEndpoint' | 'clusterView'>();
  /** Work of all peers together: a few at a time, so each member's config goes out as soon as its own work is done. */
  private readonly slots = new WorkSlots(CONCURRENT_RECONFIGURATIONS);
  private readonly registry: ControlRegistry;
  private readonly datapath: HubDatapath;
  /** Every session's keepalives and liveness deadline, on one timer. */
  private readonly keepalives: SessionKeepalives;
  private readonly log: Logger;
  private readonly routing: RoutingMode;
  private readonly identity: HubIdentity;
  private readonly settings: PlanSettings;
  private readonly encryptByDefault: boolean;
  /** The SAs of every encrypted link configured here, and their rekeys. */
  private readonly keeper: LinkSaKeeper;
  /** Which links each peer is an end of, as last configured: tunnel names to link ids, for rekey requests. */
  private readonly tunnelLinks = new Map<string, Map<string, number>>();
  private readonly shortcuts: ShortcutLinks | undefined;
  private closing = false;

  constructor(options: ControlPlaneOptions) {
    this.registry = options.registry;
    this.datapath = options.datapath;
    this.keepalives = new SessionKeepalives(options.timing);
    this.log = options.log;
    this.routing = options.routing ?? 'static';
    this.identity = options.identity ?? { hubId: '', endpoint6: null };
    this.shortcuts = options.shortcuts;
    const paths = options.paths ?? DEFAULT_PATH_OPTIONS;
    this.settings = { routing: this.routing, keepaliveInterval: paths.keepaliveInterval, hubId: this.identity.hubId };
    this.encryptByDefault = options.encryption?.byDefault ?? false;
    this.keeper = new LinkSaKeeper({
      registry: this.registry, log: this.log, hooks: { settle: (linkId, ends) => this.settleLink(ends) },
      ...(options.encryption?.rekeyIntervalMs !== undefined ? { rekeyIntervalMs: options.encryption.rekeyIntervalMs } : {}),
      ...(options.encryption?.graceMs !== undefined ? { graceMs: options.encryption.graceMs } : {}),
    });
  }

  /** Creates the session for a freshly authenticated connection; a peer's older session is closed. */
  attach(peer: AuthenticatedPeer, transport: SessionTransport): ControlSession {
    const pathHeardAt = transport.pathLiveness === true ? this.hubTunnelHeardAt(peer.name) : null;
    const session = new ControlSession(peer.name, transport, this.keepalives, this, this.identity.endpoint6, pathHeardAt);
    if (this.closing) {
      session.close(new TunnelError('ERR_CLOSED', 'the hub is shutting down'));
      return session;
    }
    const entry = this.entry(peer.name);
    const previous = entry.session;
    entry.session = session;
    entry.sessionAuth = peer.method;
    previous?.close(new TunnelError('ERR_CLOSED', 'replaced by a newer session of the same peer'));
    return session;
  }

  /** `peer`'s hub tunnel stopped hearing it: its path-proven session takes a turn now (ControlSession.pathQuiet). */
  hubTunnelQuiet(peer: string, lastHeardAt: number | null): void {
    this.entries.get(peer)?.session?.pathQuiet(lastHeardAt);
  }

  /** When `peer`'s hub tunnel last proved it alive, for its path-proven session; null when the datapath cannot tell. */
  private hubTunnelHeardAt(peer: string): (() => number | null) | null {
    const datapath = this.datapath;
    if (datapath.pathHeardAt === undefined) return null;
    const tunnel = tunnelInterfaceName(peer);
    return () => datapath.pathHeardAt!(tunnel);
  }

  /** Live state of every peer that connected (or reported over a shell) since the hub started: the plane's own map, not a copy, so it follows later changes. */
  liveState(): ReadonlyMap<string, PeerLiveState> {
    return this.live;
  }

  /** The path keepalive interval the hub issues (seconds). */
  get keepaliveInterval(): number {
    return this.settings.keepaliveInterval;
  }

  /** Where the keys of an encrypted link stand (epoch, rekey phase, since when), or undefined. */
  linkKeys(linkId: number): KeptLinkStatus | undefined {
    return this.keeper.statusOf(linkId);
  }

  /**
   * A member's outbound SA nears the end of its sequence numbers (its `rekey` message): `tunnel`
   * is its interface. Starts a make-before-break rekey of the link; unknown tunnels are ignored,
   * and the keeper takes such a request only for an epoch older than a minute (no engine seals
   * 2^31 packets sooner), so a member cannot make the hub rekey without end.
   */
  rekeyRequested(session: ControlSession, tunnel: string): void {
    if (this.entries.get(session.peer)?.session !== session) return;
    const linkId = this.tunnelLinks.get(session.peer)?.get(tunnel);
    if (linkId !== undefined) this.keeper.rekey(linkId, 'rekey-due');
  }

  /** The hub's own end `tnl-PEER` nears the end of its sequence numbers. */
  hubEndRekeyDue(tunnel: string): void {
    for (const [peer, tunnels] of this.tunnelLinks) {
      if (tunnelInterfaceName(peer) !== tunnel) continue;
      const linkId = tunnels.get(tunnelInterfaceName(HUB_END_NAME));
      if (linkId !== undefined) this.keeper.rekey(linkId, 'rekey-due');
    }
  }

  /** Closes every session and waits for queued reconfigurations. */
  async close(): Promise<void> {
    this.closing = true;
    this.keeper.close();
    const entries = [...this.entries.values()];
    for (const entry of entries) entry.session?.close(new TunnelError('ERR_CLOSED', 'the hub is shutting down'));
    await Promise.all(entries.map((entry) => entry.queue));
  }

  /**
   * A shell `endpoint` report (stock OpenSSH, no protocol session): `seen` is the address the SSH
   * connection comes from, so it is verified. Reconfigures the hub's end of the hub<->peer link and
   * every member linked to the peer; resolves once applied, or rejects with why not.
   */
  async reportFromShell(peer: string, seen: string): Promise<void> {
    const now = Date.now();
    const entry = this.entry(peer);
    const state = entry.live;
    if (state?.connected) {
      if (state.seen !== seen) state.probes = {};
      state.seen = seen;
      state.outerFamily = familyOf(seen);
      state.lastSeen = now;
    } else {
      this.setLive(peer, entry, {
        connected: false, transport: 'ssh', auth: 'ssh-key', session: SHELL_SESSION, seen, reported: seen,
        connectedAt: now, lastSeen: now, lastError: null, probes: state?.seen === seen ? state.probes : {},
        encap: state?.encap ?? null, encapReason: state?.encapReason ?? null, esp: state?.esp ?? null, outerFamily: familyOf(seen), software: null,
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
    this.reads.clear();
    await this.routingFacts();
    const peers = [...this.entries].filter(([, entry]) => entry.live).map(([peer]) => peer);
    await Promise.all(peers.map((peer) => this.enqueue(peer, () => this.reconfigure(peer, false))));
  }

  /**
   * Reconfigures these peers (those live here) from the registry as it is now, without cascading:
   * a shortcut made, verified, re-punched or going. Resolves once every one is applied.
   */
  async refresh(peers: readonly string[]): Promise<void> {
    const live = [...new Set(peers)].filter((peer) => this.entries.get(peer)?.live);
    await Promise.all(live.map((peer) => this.enqueue(peer, () => this.reconfigure(peer, false))));
  }

  established(session: ControlSession, hello: MessageOf<'hello'>): void {
    const seen = session.transport.remoteAddress;
    const entry = this.entry(session.peer);
    const previous = entry.live;
    this.setLive(session.peer, entry, {
      connected: true, transport: session.transport.kind, auth: (entry.session === session ? entry.sessionAuth : undefined) ?? 'ssh-key',
      session: session.id, seen, reported: hello.endpoint, connectedAt: session.startedAt, lastSeen: Date.now(), lastError: null,
      // A member that reconnects from the same address keeps what its probes found.
      probes: previous?.seen === seen && previous.reported === hello.endpoint ? previous.probes : {},
      encap: previous?.encap ?? null, encapReason: previous?.encapReason ?? null, esp: previous?.esp ?? null, outerFamily: familyOf(seen),
      software: hello.software,
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
    const state = this.entries.get(session.peer)?.live;
    if (state?.session === session.id) {
      if (state.reported !== address) state.probes = {};
      state.reported = address;
      state.lastSeen = session.lastSeen;
    }
    this.enqueueFor(session, () => this.reconfigure(session.peer, true));
  }

  probed(session: ControlSession, probe: MessageOf<'probe'>): void {
    const state = this.entries.get(session.peer)?.live;
    if (state?.session !== session.id || probe.tunnel !== tunnelInterfaceName(HUB_END_NAME)) return;
    // A probe of an encapsulation the hub link no longer runs is stale: the hub moved on already.
    if (state.encap !== probe.encap || state.probes[probe.encap as keyof ProbeResults] === probe.answered) return;
    state.probes = { ...state.probes, [probe.encap]: probe.answered };
    this.log.info({ peer: session.peer, encap: probe.encap, answered: probe.answered }, 'path probe reported');
    this.enqueueFor(session, () => this.reconfigure(session.peer, true));
  }

  linkReported(session: ControlSession, report: MessageOf<'link-report'>): void {
    if (this.entries.get(session.peer)?.session !== session) return;
    this.shortcuts?.reported(session.peer, report.links);
  }

  acked(session: ControlSession, version: number): void {
    this.enqueueFor(session, async () => {
      await this.registry.recordPeerAck(session.peer, version);
      sessionAcked.publish({ peer: session.peer, version });
    });
  }

  clientError(session: ControlSession, code: string, message: string): void {
    this.log.warn({ peer: session.peer, code, reason: message }, 'peer reported an error');
    const state = this.entries.get(session.peer)?.live;
    if (state?.session === session.id) state.lastError = `${code}: ${message}`;
  }

  closed(session: ControlSession, error: TunnelError | undefined): void {
    const entry = this.entries.get(session.peer);
    if (entry?.session !== session) return;
    entry.session = undefined;
    entry.sessionAuth = undefined;
    const state = entry.live;
    if (state?.session === session.id) {
      state.connected = false;
      state.lastSeen = session.lastSeen;
      if (error) state.lastError = `${error.code}: ${error.message}`;
    }
    sessionClosed.publish({ peer: session.peer, session: session.id, code: error?.code ?? null });
    this.log.info({ peer: session.peer, session: session.id, code: error?.code }, 'session closed');
    this.dropIfIdle(session.peer);
  }

  /** The peer's entry, made when it has none. */
  private entry(peer: string): PeerEntry {
    let entry = this.entries.get(peer);
    if (!entry) {
      entry = emptyPeerEntry();
      this.entries.set(peer, entry);
    }
    return entry;
  }

  /** Sets (or clears) the peer's live state in its entry and in the map liveState() gives. */
  private setLive(peer: string, entry: PeerEntry, state: PeerLiveState | undefined): void {
    entry.live = state;
    if (state === undefined) this.live.delete(peer);
    else this.live.set(peer, state);
  }

  /** Forgets a peer the hub holds nothing for any more. */
  private dropIfIdle(peer: string): void {
    const entry = this.entries.get(peer);
    if (entry && isIdle(entry)) this.entries.delete(peer);
  }

  /** Queues work for the session's peer; a failure closes that session with the coded error. */
  private enqueueFor(session: ControlSession, work: () => Promise<void>): void {
    void this.enqueue(session.peer, work).then((error) => {
      if (error) session.close(error);
    });
  }

  /** Runs `work` after the peer's earlier work; resolves with the error it failed with, if any. */
  private enqueue(peer: string, work: () => Promise<void>): Promise<TunnelError | undefined> {
    const entry = this.entry(peer);
    const previous = entry.queue ?? Promise.resolve(undefined);
    const next = previous.then(() => this.slots.run(work)).then(() => undefined, (err: unknown) => {
      if (!isTunnelError(err)) this.log.error({ err, peer }, 'reconfiguration failed');
      // A refused device is logged by the datapath, once per cause: thousands of members must not mean thousands of lines.
      else if (err instanceof HubDeviceError) this.log.debug({ peer, code: err.code, cause: err.deviceCause }, 'reconfiguration failed: device refused');
      else this.log.warn({ peer, code: err.code, reason: err.message }, 'reconfiguration failed');
      return isTunnelError(err) ? err : new TunnelError('ERR_SYSTEM', 'reconfiguration failed', { cause: err });
    });
    entry.queue = next;
    void next.then(() => {
      if (entry.queue !== next) return;
      entry.queue = undefined;
      this.dropIfIdle(peer);
    });
    return next;
  }

  /**
   * Recomputes everything one peer runs and applies it: gather, plan, apply. With `cascade`,
   * members linked to this peer are reconfigured too, since they aim at its endpoint.
   * `claimedNow`: this hub has just claimed the peer's session, so it serves it (a later claim
   * elsewhere is announced, and the reconciliation it brings finds the move).
   */
  private async reconfigure(peer: string, cascade: boolean, claimedNow = false): Promise<void> {
    const entry = this.entries.get(peer);
    const live = entry?.live;
    if (!entry || !live) return;
    const session = entry.session && !entry.session.isClosed ? entry.session : undefined;
    const snapshot: PeerSnapshot = {
      name: peer, seen: live.seen, reported: live.reported, probes: live.probes, encap: live.encap, encapReason: live.encapReason, esp: live.esp,
      // A shell report came over SSH; a session over whatever its front door is.
      channelEncrypted: session ? session.transport.encrypted : true,
      sessionKey: session?.sessionKey.toString('base64url'), routeRefusals: entry.routeRefusals,
    };
    const plan = planPeer(snapshot, await this.gather(snapshot, claimedNow), this.settings);
    const work: Reconfiguration = { entry, live, session, snapshot, cascade };
    await (plan.kind === 'retire' ? this.retire(plan, work) : this.apply(plan, work));
  }

  /**
   * Every registry read a reconfiguration needs, made before anything is written: the peer's row
   * (one read) and whether another hub serves it; for a peer that stays, its links, routing record
   * and the reads all members share (once per registry change).
   */
  private async gather(peer: PeerSnapshot, claimedNow: boolean): Promise<PeerFacts> {
    const standing = await this.registry.peerStanding(peer.name);
    const servedElsewhere = standing && !standing.revocation && !claimedNow ? await this.registry.servedElsewhere(peer.name) : null;
    if (!standing || retirementOf(peer.name, { standing, servedElsewhere })) return { standing, servedElsewhere, links: undefined };
    const { hubLink, peerLinks: peerLinkFacts } = await this.registry.linksOf(peer.name);
    // The link runs over the family the member reached the hub with.
    const hubLocal = isIPv6(peer.seen) ? this.identity.endpoint6 : await this.reads.get('hubEndpoint', () => this.registry.hubEndpoint());
    const peerLinks: GatheredPeerLink[] = [];
    for (const link of peerLinkFacts) peerLinks.push(await this.gatherPeerLink(peer, standing.pinnedEncap, link));
    const { hubLinkEncrypted, hubLinkKeying } = await this.gatherKeys(peer, standing.encrypt, hubLink.id, peerLinks);
    const memberRouting = await this.registry.memberRouting(peer.name);
    const routingFacts = await this.routingFacts();
    const cluster = await this.reads.get('clusterView', () => this.registry.clusterView());
    return { standing, servedElsewhere, links: { hubLink, hubLinkEncrypted, hubLinkKeying, hubLocal, peerLinks, memberRouting, routingFacts, cluster } };
  }

  /**
   * Decides which of the peer's links are encrypted (both ends encrypt: link-encryption.ts) and has
   * the keeper make or follow their epochs; sets each peer link's keys and returns the hub link's.
   * Links that are no longer encrypted are forgotten. A member whose channel cannot carry keys
   * gets none made: the plan refuses it.
   */
  private async gatherKeys(peer: PeerSnapshot, setting: EncryptSetting, hubLinkId: number, peerLinks: GatheredPeerLink[]):
    Promise<{ hubLinkEncrypted: boolean; hubLinkKeying: LinkSaKeying | undefined }> {
    const member = peer.sessionKey !== undefined;
    const own = this.entries.get(peer.name)?.session;
    const encrypts = peerEncrypts({ setting, member }, this.encryptByDefault);
    const refused = member && !peer.channelEncrypted;
    const tunnels = new Map<string, number>([[tunnelInterfaceName(HUB_END_NAME), hubLinkId]]);
    this.tunnelLinks.set(peer.name, tunnels);
    const requests: KeptLinkRequest[] = [];
    const owner = (session: ControlSession | undefined): string => session?.id ?? 'none';
    if (encrypts && !refused) {
      requests.push({ linkId: hubLinkId, ends: [peer.name], owners: member ? `session ${owner(own)}` : 'static', rekeysHere: true });
    } else {
      this.keeper.forget(hubLinkId);
    }
    const encryptedLinks = new Set<number>();
    for (const link of peerLinks) {
      tunnels.set(tunnelInterfaceName(link.other), link.linkId);
      const otherSession = this.entries.get(link.other)?.session;
      const otherMember = otherSession !== undefined && !otherSession.isClosed;
      if (!encrypts || refused || !peerEncrypts({ setting: link.otherEncrypt, member: otherMember }, this.encryptByDefault)) {
        this.keeper.forget(link.linkId);
        continue;
      }
      encryptedLinks.add(link.linkId);
      const [first] = link.ends;
      const sessions = link.ends.map((end) => owner(end.name === peer.name ? own : this.entries.get(end.name)?.session));
      requests.push({
        linkId: link.linkId, ends: link.ends.map((end) => end.name),
        // A router at either end cannot be handed new SAs: the link's are static then.
        owners: member && otherMember ? `sessions ${sessions.join(' ')}` : 'static',
        rekeysHere: first.name === peer.name ? member : otherMember,
      });
    }
    const keyings = await this.keeper.prepare(requests);
    for (const link of peerLinks) link.keying = encryptedLinks.has(link.linkId) ? keyings.get(link.linkId) : undefined;
    return { hubLinkEncrypted: encrypts, hubLinkKeying: keyings.get(hubLinkId) };
  }

  /**
   * Brings every end of a link that this hub runs in line with the link's keys now (the keeper's
   * rekey step) and resolves true once each member end with a session here acknowledged its
   * config; false when one of their sessions closed first.
   */
  private async settleLink(ends: readonly string[]): Promise<boolean> {
    const waits: Promise<boolean>[] = [];
    for (const peer of ends) {
      if (!this.entries.get(peer)?.live) continue;
      const error = await this.enqueue(peer, () => this.reconfigure(peer, false));
      if (error) return false;
      const session = this.entries.get(peer)?.session;
      if (session && !session.isClosed) waits.push(session.acknowledged(session.sentVersion));
    }
    return (await Promise.all(waits)).every(Boolean);
  }

  /** Both ends of one of `peer`'s peer<->peer links and their pins (the peer's own pin came with its row). */
  private async gatherPeerLink(peer: PeerSnapshot, ownPin: Encapsulation | null, link: PeerLinkFacts): Promise<GatheredPeerLink> {
    const [first, second] = [link.table.ends[0].name, link.table.ends[1].name];
    const shortcut = link.kind === 'shortcut';
    const endOf = async (name: string): Promise<PeerEndFacts> => {
      const end = name === peer.name ? { name, seen: peer.seen, reported: peer.reported } : await this.otherEnd(name);
      // A shortcut through two NATs aims at the mappings the hub verified on the ends' hub links.
      return shortcut ? { ...end, mapped: this.natMapping(name) } : end;
    };
    const pinOf = async (name: string): Promise<Encapsulation | null> => (name === peer.name ? ownPin : this.registry.pinnedEncap(name));
    const ends = [await endOf(first), await endOf(second)] as const;
    const pinned = (await pinOf(first)) ?? (await pinOf(second));
    const state = this.peerLinkState(link.linkId);
    const routed = !shortcut || (this.shortcuts?.routed(link.linkId) ?? true);
    return { ...link, ends, pinned, key: state.key, recordedPath: state.recordedPath, keying: undefined, routed };
  }

  /** The address:port a member's hub link is bound to (its NAT's mapping, verified by a hello), or null. */
  private natMapping(peer: string): { address: string; port: number } | null {
    const binding = this.datapath.binding?.(tunnelInterfaceName(peer));
    return binding?.state === 'bound' && binding.address !== null && binding.port !== null ? { address: binding.address, port: binding.port } : null;
  }

  /** Where the hub believes another peer is: live state first, else the registry's last verified address. */
  private async otherEnd(peer: string): Promise<PeerEndFacts> {
    const live = this.entries.get(peer)?.live;
    return { name: peer, seen: live?.seen ?? await this.registry.latestEndpoint(peer), reported: live?.reported ?? null };
  }

  /** A peer<->peer link's state, its hello key made on first use. */
  private peerLinkState(linkId: number): PeerLinkState {
    let state = this.peerLinks.get(linkId);
    if (!state) {
      state = { key: randomBytes(32).toString('base64url'), recordedPath: undefined };
      this.peerLinks.set(linkId, state);
    }
    return state;
  }

  /**
   * Carries out a configuration: records the paths that changed (and, when the peer acted, its
   * address), issues the specs, applies the hub's end when its version moved (or this process does
   * not run it yet), pushes the config to the session, then reconfigures linked members.
   */
  private async apply(plan: PeerConfiguration, work: Reconfiguration): Promise<void> {
    const { entry, live, session, snapshot: peer } = work;
    const encapChanged = live.encap !== plan.choice.encap || live.encapReason !== plan.choice.reason;
    if (plan.hubLinkPath) await this.registry.recordLinkPath(plan.hubLinkPath.linkId, plan.hubLinkPath.encap, plan.hubLinkPath.reason, plan.hubLinkPath.esp);
    live.encap = plan.choice.encap;
    live.encapReason = plan.choice.reason;
    live.esp = plan.choice.esp ?? null;
    for (const path of plan.peerLinkPaths) await this.recordPeerLinkPath(path);
    // When the peer acted, its seen address goes into its history in the same transaction (one commit, not two).
    const issued = await this.registry.issueSpecs(peer.name, plan.hubLinkId, plan.stored.hubEnd, plan.stored.config, peer.reported, work.cascade ? peer.seen : null);
    const hubApplied = issued.hubChanged || !entry.hubEndRunning;
    if (hubApplied) {
      await this.datapath.upsert(plan.hubEnd, peer.name);
      entry.hubEndRunning = true;
      await this.registry.recordHubApplied(plan.hubLinkId, issued.hubVersion);
    }
    if (issued.hubChanged || issued.peerChanged) {
      const change = { peer: peer.name, hubVersion: issued.hubVersion, peerVersion: issued.peerVersion, remote: peer.seen, reported: peer.reported, encap: plan.choice.encap, encapReason: plan.choice.reason };
      sessionReconfigured.publish({ ...change, hubApplied });
      // A session's first config on the same encapsulation (a reconnect, a move) says nothing its
      // "session established" line did not: one info line per session start, not two.
      if (encapChanged || session === undefined || session.sentVersion > 0) this.log.info(change, 'link reconfigured');
      else this.log.debug(change, 'link reconfigured');
    }
    session?.pushConfig({ version: issued.peerVersion, ...plan.config });
    if (!work.cascade) return;
    for (const other of plan.linked) {
      if (this.entries.get(other)?.live) void this.enqueue(other, () => this.reconfigure(other, false));
    }
  }

  /**
   * Records a peer<->peer link's path unless the reconfiguration of its other end already did (or
   * is doing) since this one read: marked first, so two ends moving at once write it once.
   */
  private async recordPeerLinkPath(path: PeerConfiguration['peerLinkPaths'][number]): Promise<void> {
    const link = this.peerLinkState(path.linkId);
    if (link.recordedPath === path.decided) return;
    const before = link.recordedPath;
    link.recordedPath = path.decided;
    try {
      await this.registry.recordLinkPath(path.linkId, path.encap, path.reason, path.esp);
    } catch (err) {
      if (link.recordedPath === path.decided) link.recordedPath = before;
      throw err;
    }
  }

  /** Carries out a retirement: the session is closed with why, and the hub's end comes down. */
  private async retire(plan: PeerRetirement, work: Reconfiguration): Promise<void> {
    const peer = work.snapshot.name;
    if (plan.forget) this.setLive(peer, work.entry, undefined);
    this.keeper.forgetPeer(peer);
    this.tunnelLinks.delete(peer);
    work.session?.close(plan.error);
    await this.removeHubEnd(peer, work.entry);
    if (plan.movedTo !== null) this.log.info({ peer, hub: plan.movedTo }, 'member moved to another hub');
  }

  /** Pools and approved prefixes; loading them also gives the hub its unreachable fallback routes. */
  private routingFacts(): Promise<RoutingFacts> {
    return this.reads.get('routingFacts', () => this.registry.routingFacts().then(async (facts) => {
      if (this.routing === 'static') await this.datapath.routeUnreachable?.(hubUnreachableRoutes(facts));
      return facts;
    }));
  }

  /** Records a member's `--advertise` list; refusals are kept (and logged) to tell the member in its config. */
  private async recordAdvertised(peer: string, prefixes: readonly string[]): Promise<void> {
    const outcomes = await this.registry.recordRouteRequests(peer, prefixes);
    this.entry(peer).routeRefusals = outcomes.filter((outcome) => outcome.state === 'refused');
    for (const outcome of outcomes) {
      if (outcome.state === 'approved') continue;
      if (outcome.state === 'pending') this.log.info({ peer, prefix: outcome.prefix }, 'prefix advertised; pending approval (`tunnel-hub peer route approve`)');
      else this.log.warn({ peer, prefix: outcome.prefix, code: outcome.code, reason: outcome.message }, 'advertised prefix refused');
    }
  }

  /** Takes down the hub's end of a removed, revoked or moved peer's hub link, if this process runs it. */
  private async removeHubEnd(peer: string, entry: PeerEntry): Promise<void> {
    if (!entry.hubEndRunning) return;
    const name = tunnelInterfaceName(peer);
    await this.datapath.remove(name);
    entry.hubEndRunning = false;
    this.log.info({ peer, tunnel: name }, 'hub end removed');
  }
}
