import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { LinkAead, SaEpochRecord } from '../registry/link-sa-epoch-store.js';
import type { LinkSaKeying } from './link-end-esp.js';
import { deriveLinkSaPair, LINK_AEAD, type LinkSaPair } from './link-sa-keys.js';
import { initialRekeyState, nextRekeyState, newestEpoch, type LinkRekeyState, type RekeyPhase } from './link-rekey-state.js';

/** Rekey every hour by default: well before 2^31 packets at any rate below ~600,000 packets per second. */
export const DEFAULT_REKEY_INTERVAL_MS = 3_600_000;

/** How long an old inbound SA stays after both ends switched: packets sealed just before still open. */
export const DEFAULT_REKEY_GRACE_MS = 10_000;

/**
 * The youngest epoch a `rekey-due` request moves on from. No engine seals 2^31 packets in a
 * minute (that is 36 million per second), so an earlier request is a mistake or an abuse.
 */
export const MIN_REKEY_DUE_AGE_MS = 60_000;

/** What the keeper reads and writes in the registry. */
export interface SaKeeperRegistry {
  /** The cluster's ESP master key, base64url (made by the first hub that asks). */
  espMasterKey(): Promise<string>;
  /** The newest epoch of each member link that has one (one read). */
  latestSaEpochs(linkIds: readonly number[]): Promise<Map<number, SaEpochRecord>>;
  /** Makes the next epoch of a member link. */
  startSaEpoch(linkId: number, aead: LinkAead, reason: string): Promise<SaEpochRecord>;
}

/** What the keeper asks of the control plane during a rekey. */
export interface RekeyHooks {
  /**
   * Reconfigures every end of the link this hub runs (the hub's own end, the members served here)
   * so they run the link's present phase, and resolves true once each member end acknowledged
   * that config; false when an end's session closed first (it starts afresh when it returns).
   */
  settle(linkId: number, ends: readonly string[]): Promise<boolean>;
}

/** One encrypted link as a reconfiguration hands it to the keeper. */
export interface KeptLinkRequest {
  linkId: number;
  /** The peers at its ends (the hub's end of a hub link is not a peer). */
  ends: readonly string[];
  /**
   * What the current epoch must have been made for: the control sessions of its member ends
   * (another session means another engine that holds no SAs: a new epoch, at once). `static` for
   * a router's link, whose SAs change only when the operator says so (`peer rekey`).
   */
  owners: string;
  /** This hub runs the link's rekey timer (its hub link, or a peer link whose first end it serves). */
  rekeysHere: boolean;
}

/** A kept link's rekey, for status. */
export interface KeptLinkStatus {
  epoch: number;
  phase: RekeyPhase;
  /** When its current epoch took over (ms since the epoch). */
  since: number;
}

interface KeptLink {
  ends: readonly string[];
  owners: string;
  static: boolean;
  rekeysHere: boolean;
  state: LinkRekeyState;
  /** Moves on every restart: a rekey in flight that finds another generation stops. */
  generation: number;
  pairs: Map<number, LinkSaPair>;
  aead: LinkAead;
  since: number;
  timer: NodeJS.Timeout | undefined;
  rekeying: boolean;
}

/** What the keeper is built from. */
export interface LinkSaKeeperOptions {
  registry: SaKeeperRegistry;
  hooks: RekeyHooks;
  log: Logger;
  /** Default DEFAULT_REKEY_INTERVAL_MS; ±10 % jitter spreads links made together. */
  rekeyIntervalMs?: number;
  /** Default DEFAULT_REKEY_GRACE_MS. */
  graceMs?: number;
  /** Default Math.random, for the jitter. */
  random?: () => number;
  /** Default Date.now. */
  clock?: () => number;
}

/**
 * The SAs of every encrypted link this hub configures, and their rekeys. Keys derive from the
 * cluster's master key and a link's epoch (link-sa-keys.ts); epochs live in the registry, so a
 * restarted hub, a restarted member and the other hubs of a cluster agree again by reading them.
 *
 * An end that starts afresh (a member's new session, this hub's first configuration of a link
 * since it started) gets a new epoch at once: a new engine never seals under a key an earlier
 * engine used, so no (key, IV) pair is ever used twice, and the other end holds nothing it could
 * still need. A rekey (every `rekeyIntervalMs`, when an end's sequence numbers run towards 2^31,
 * when another process wrote a newer epoch) is make-before-break: every end first opens the new
 * epoch too, then every end seals with it, then the old inbound SA goes after `graceMs`. A router's
 * link is static: its SAs change only with `peer rekey`, and the hub follows at once.
 */
export class LinkSaKeeper {
  private readonly links = new Map<number, KeptLink>();
  private readonly graces = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  private readonly registry: SaKeeperRegistry;
  private readonly hooks: RekeyHooks;
  private readonly log: Logger;
  private readonly intervalMs: number;
  private readonly graceMs: number;
  private readonly random: () => number;
  private readonly clock: () => number;
  private master: Promise<Buffer> | undefined;
  private closed = false;
  /** The prepare() under way: the plans of a link's two ends run at once, and must not both make its first epoch. */
  private preparing: Promise<unknown> = Promise.resolve();

  constructor(options: LinkSaKeeperOptions) {
    this.registry = options.registry;
    this.hooks = options.hooks;
    this.log = options.log;
    this.intervalMs = options.rekeyIntervalMs ?? DEFAULT_REKEY_INTERVAL_MS;
    this.graceMs = options.graceMs ?? DEFAULT_REKEY_GRACE_MS;
    this.random = options.random ?? Math.random;
    this.clock = options.clock ?? Date.now;
  }

  /**
   * The keys of `requests`' links as a plan needs them, making an epoch where an end starts
   * afresh (or a static link has none yet) and following an epoch another process wrote. One
   * registry read for all of them, plus one write per link that needs a new epoch.
   */
  prepare(requests: readonly KeptLinkRequest[]): Promise<Map<number, LinkSaKeying>> {
    const run = this.preparing.then(() => this.prepareNow(requests));
    this.preparing = run.catch(() => undefined);
    return run;
  }

  private async prepareNow(requests: readonly KeptLinkRequest[]): Promise<Map<number, LinkSaKeying>> {
    const keyings = new Map<number, LinkSaKeying>();
    if (requests.length === 0) return keyings;
    const master = await this.masterKey();
    const latest = await this.registry.latestSaEpochs(requests.map((request) => request.linkId));
    for (const request of requests) {
      const link = await this.keep(request, latest.get(request.linkId));
      for (const epoch of [link.state.current, ...(link.state.next === null ? [] : [link.state.next])]) {
        if (!link.pairs.has(epoch)) link.pairs.set(epoch, deriveLinkSaPair(master, { kind: 'member', linkId: request.linkId }, epoch, link.aead));
      }
      for (const epoch of link.pairs.keys()) if (epoch !== link.state.current && epoch !== link.state.next) link.pairs.delete(epoch);
      keyings.set(request.linkId, { state: link.state, pairs: new Map(link.pairs) });
    }
    return keyings;
  }

  /**
   * Starts a make-before-break rekey of a member link now (`interval`, `rekey-due` when an end's
   * sequence numbers near the limit). Nothing happens for an unknown or static link, while a
   * rekey of the link is under way, or for `rekey-due` on an epoch younger than a minute.
   */
  rekey(linkId: number, reason: string): void {
    const link = this.links.get(linkId);
    if (!link || link.static || link.rekeying || this.closed) return;
    if (reason === 'rekey-due' && this.clock() - link.since < MIN_REKEY_DUE_AGE_MS) return;
    void this.runRekey(linkId, link, reason, undefined);
  }

  /** The link is no longer encrypted, or gone: its timer stops and its keys are dropped. */
  forget(linkId: number): void {
    const link = this.links.get(linkId);
    if (!link) return;
    clearTimeout(link.timer);
    link.generation++;
    this.links.delete(linkId);
  }

  /** Forgets every link `peer` is an end of (the peer was removed, revoked or moved away). */
  forgetPeer(peer: string): void {
    for (const [linkId, link] of this.links) if (link.ends.includes(peer)) this.forget(linkId);
  }

  /** Where a kept link's keys stand, or undefined when it is not kept. */
  statusOf(linkId: number): KeptLinkStatus | undefined {
    const link = this.links.get(linkId);
    return link && { epoch: link.state.current, phase: link.state.phase, since: link.since };
  }

  /** Stops every timer; rekeys under way stop at their next step. */
  close(): void {
    this.closed = true;
    for (const linkId of [...this.links.keys()]) this.forget(linkId);
    for (const grace of this.graces) {
      clearTimeout(grace.timer);
      grace.resolve();
    }
    this.graces.clear();
  }

  private masterKey(): Promise<Buffer> {
    this.master ??= this.registry.espMasterKey().then((text) => Buffer.from(text, 'base64url'));
    this.master.catch(() => {
      this.master = undefined;
    });
    return this.master;
  }

  /** The kept link for `request`, brought in line with its owners and the registry's newest epoch. */
  private async keep(request: KeptLinkRequest, latest: SaEpochRecord | undefined): Promise<KeptLink> {
    const kept = this.links.get(request.linkId);
    const isStatic = request.owners === 'static';
    if (isStatic) {
      const epoch = latest ?? await this.registry.startSaEpoch(request.linkId, LINK_AEAD, 'first');
      if (kept?.static && kept.state.current === epoch.epoch) return this.refresh(kept, request);
      return this.replace(request, epoch, kept);
    }
    if (!kept || kept.owners !== request.owners || kept.static) {
      const epoch = await this.registry.startSaEpoch(request.linkId, LINK_AEAD, kept ? 'session' : 'hub-start');
      return this.replace(request, epoch, kept);
    }
    this.refresh(kept, request);
    // Another process (`peer rekey`, the hub serving the other end) made a newer epoch: move to it.
    if (latest && latest.epoch > newestEpoch(kept.state) && !kept.rekeying) void this.runRekey(request.linkId, kept, 'registry', latest);
    return kept;
  }

  private refresh(kept: KeptLink, request: KeptLinkRequest): KeptLink {
    kept.ends = request.ends;
    if (kept.rekeysHere !== request.rekeysHere) {
      kept.rekeysHere = request.rekeysHere;
      this.schedule(request.linkId, kept);
    }
    return kept;
  }

  /** A link starting at `epoch` afresh (a new end, or a static link's new SAs). */
  private replace(request: KeptLinkRequest, epoch: SaEpochRecord, kept: KeptLink | undefined): KeptLink {
    if (kept) clearTimeout(kept.timer);
    const link: KeptLink = {
      ends: request.ends, owners: request.owners, static: request.owners === 'static', rekeysHere: request.rekeysHere,
      state: kept ? nextRekeyState(kept.state, { type: 'restart', epoch: epoch.epoch }) : initialRekeyState(epoch.epoch),
      generation: (kept?.generation ?? 0) + 1, pairs: new Map(), aead: epoch.aead, since: this.clock(), timer: undefined, rekeying: false,
    };
    this.links.set(request.linkId, link);
    this.log.info({ link: request.linkId, epoch: epoch.epoch, reason: epoch.reason, ends: request.ends }, 'link SAs installed');
    this.schedule(request.linkId, link);
    return link;
  }

  private schedule(linkId: number, link: KeptLink): void {
    clearTimeout(link.timer);
    link.timer = undefined;
    if (link.static || !link.rekeysHere || this.closed) return;
    const delay = Math.round(this.intervalMs * (0.9 + 0.2 * this.random()));
    link.timer = setTimeout(() => this.rekey(linkId, 'interval'), delay);
    link.timer.unref();
  }

  /**
   * Make-before-break: a new epoch (or `adopted`, made elsewhere), installed as inbound on every
   * end, then sealed with on every end, then the old one dropped after the grace period. Each
   * step waits until every end here acknowledged the one before; a restart of the link (a new
   * session) ends the rekey, since it brings a new epoch of its own.
   */
  private async runRekey(linkId: number, link: KeptLink, reason: string, adopted: SaEpochRecord | undefined): Promise<void> {
    const generation = link.generation;
    link.rekeying = true;
    clearTimeout(link.timer);
    const current = (): boolean => !this.closed && this.links.get(linkId) === link && link.generation === generation;
    try {
      const epoch = adopted ?? await this.registry.startSaEpoch(linkId, link.aead, reason);
      if (!current()) return;
      link.pairs.set(epoch.epoch, deriveLinkSaPair(await this.masterKey(), { kind: 'member', linkId }, epoch.epoch, epoch.aead));
      link.state = nextRekeyState(link.state, { type: 'begin', epoch: epoch.epoch });
      this.log.info({ link: linkId, from: link.state.current, to: epoch.epoch, reason }, 'rekey: installing the new inbound SAs');
      for (const phase of ['switching', 'draining'] as const) {
        if (!await this.hooks.settle(linkId, link.ends) || !current()) return;
        link.state = nextRekeyState(link.state, { type: 'acked' });
        if (phase === 'switching') this.log.info({ link: linkId, epoch: epoch.epoch }, 'rekey: every end opens the new SAs; switching senders');
      }
      await this.grace();
      if (!current()) return;
      link.state = nextRekeyState(link.state, { type: 'grace-over' });
      link.since = this.clock();
      await this.hooks.settle(linkId, link.ends);
      if (current()) this.log.info({ link: linkId, epoch: link.state.current }, 'rekey done: the old SAs are gone');
    } catch (err) {
      if (current()) link.state = settledState(link.state);
      this.log.warn({ link: linkId, err: (err as Error).message }, 'rekey failed; the link keeps its SAs and tries again at the next interval');
    } finally {
      if (current()) {
        link.rekeying = false;
        this.schedule(linkId, link);
      }
    }
  }

  private grace(): Promise<void> {
    return new Promise((resolve) => {
      const entry = { timer: setTimeout(() => {
        this.graces.delete(entry);
        resolve();
      }, this.graceMs), resolve };
      entry.timer.unref();
      this.graces.add(entry);
    });
  }
}

/**
 * Where a rekey that failed half-way leaves a link: before any sender switched, on the old epoch
 * (the new inbound SA only lingers until the next configuration); after, on the new one.
 */
function settledState(state: LinkRekeyState): LinkRekeyState {
  if (state.phase === 'steady' || state.next === null) return state;
  return { current: state.phase === 'installing' ? state.current : state.next, next: null, phase: 'steady' };
}

/** A fresh ESP master key: 32 random bytes, base64url, for the registry to keep. */
export function generateEspMasterKey(): string {
  return randomBytes(32).toString('base64url');
}
