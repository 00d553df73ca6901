import type { Logger } from 'pino';
import { DEFAULT_KEEPALIVE_RETRIES } from '../../shared/datapath/tunnel-spec.js';
import { isTunnelError } from '../../shared/errors.js';
import { HUB_LINK_PREFIX, tunnelInterfaceName } from '../../shared/net/tunnel-interface-name.js';
import type { HubDatapath } from '../control/hub-datapath.js';
import { DEFAULT_REKEY_GRACE_MS, DEFAULT_REKEY_INTERVAL_MS, generateEspMasterKey } from '../control/link-sa-keeper.js';
import { deriveLinkSaPair, LINK_AEAD, type LinkSaPair } from '../control/link-sa-keys.js';
import type { WireTunnelEsp } from '../../shared/protocol/index.js';
import { HUB_FRESH_MS } from '../hub/cluster-membership.js';
import type { HubLinkEncap, HubLinkRecord } from '../registry/hub-link-store.js';
import type { Registry } from '../registry/registry.js';
import { hubTunnelRoutes } from '../routing/member-routes.js';
import type { RoutingMode } from '../routing/member-route-specs.js';
import { hubLinkSwitch, type HubLinkSwitch } from './hub-link-encap-switch.js';
import { HUB_START_REASON, hubLinkEsp } from './hub-link-esp.js';
import { hubToHubSpecs } from './hub-to-hub-specs.js';

/** How often the hub looks at its hub<->hub tunnels' liveness, at most (once per keepalive interval if shorter). */
const WATCH_MS = 1_000;

/** What this hub laid out towards one other hub, for the liveness watch. */
interface WatchedLink {
  readonly other: string;
  readonly encap: HubLinkEncap;
  readonly pinned: boolean;
  /** When the link was laid out in this encapsulation, the other hub (re)started, or it was switched. */
  since: number;
  /** When the link was last seen up (liveness polled), or null. */
  seenUp: number | null;
  /**
   * The other hub's heartbeat as read when the link first came due (undefined: not due). A
   * switch waits for a newer one: proof, on no clock but the other hub's, that it is alive while
   * the link is silent (a hub killed a moment ago still looks fresh for a few seconds).
   */
  dueHeartbeat?: number | null;
}

/** Whether this hub encrypts its links to other hubs that do too, and how often their keys change. */
export interface HubLinkEncryption {
  /** This hub's `serve --encrypt`. */
  encrypt: boolean;
  /** Default DEFAULT_REKEY_INTERVAL_MS. */
  rekeyIntervalMs?: number;
  /** How long the older epoch is still opened after the switch (`serve --rekey-grace`); default DEFAULT_REKEY_GRACE_MS. */
  graceMs?: number;
}

/** An encrypted hub<->hub link's keys as this hub last read them. */
interface LinkKeys {
  /** The newest epoch's creation time: the hub with the lower name rekeys when it is one interval old. */
  newestAt: number;
  first: boolean;
  pairs: Map<number, LinkSaPair>;
}

/**
 * Keeps this hub's tunnels to the other hubs of its cluster in line with the registry: makes the
 * link (its /30 and key) to each hub that joined, and re-lays each tunnel's routes whenever members
 * move or prefixes change. `sync()` may be called as often as anything changes: calls made while
 * one runs collapse into one more run after it.
 *
 * It also watches each tunnel's keepalives: a link unanswered for keepaliveRetries × interval
 * while the other hub is alive moves to the other encapsulation in the registry (GRE to FOU, FOU
 * back to GRE), unless pinned; both hubs then re-lay it. The switch is a compare-and-set, so two
 * hubs that notice at once switch it once.
 *
 * A link is encrypted when both of its hubs encrypt. Its SAs derive from the registry's epochs
 * (as members' links do, under their own `hub-link` name): a hub that starts writes a new epoch
 * for each of its links and seals with it at once (it holds no older SAs), the hub with the lower
 * name writes a new one every rekey interval, and both hubs follow each epoch make-before-break
 * on its timestamp (hub-link-esp.ts), since neither can acknowledge to the other.
 */
export class HubToHubLinks {
  private readonly running = new Map<string, string>();
  private readonly watched = new Map<string, WatchedLink>();
  /** Each other hub's start time as last seen: a restart makes its links' silence start over. */
  private readonly otherStarts = new Map<string, number | null>();
  private busy: Promise<void> | undefined;
  private again = false;
  private readonly timer: NodeJS.Timeout;
  private checking = false;
  private closed = false;
  /** Encrypted links by id: epochs this process started with, and their keys. */
  private readonly keys = new Map<number, LinkKeys>();
  private master: Buffer | undefined;
  /** A re-lay at the next change of an encrypted link's SAs (a switch, a grace's end). */
  private keyTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly registry: Registry,
    private readonly hubName: string,
    private readonly datapath: HubDatapath,
    private readonly routing: RoutingMode,
    private readonly keepaliveInterval: number,
    private readonly log: Logger,
    private readonly keepaliveRetries = DEFAULT_KEEPALIVE_RETRIES,
    private readonly encryption: HubLinkEncryption = { encrypt: false },
  ) {
    this.timer = setInterval(() => void this.checkLiveness(), Math.min(WATCH_MS, Math.max(keepaliveInterval, 0.1) * 1000));
    this.timer.unref();
  }

  /** Brings the tunnels in line with the registry now (or once more after the run in progress). */
  sync(): Promise<void> {
    // A liveness check that was waiting on the registry must not lay tunnels out after close().
    if (this.closed) return Promise.resolve();
    if (this.busy) {
      this.again = true;
      return this.busy;
    }
    this.busy = (async () => {
      do {
        this.again = false;
        try {
          await this.syncOnce();
        } catch (err) {
          this.log.warn({ code: isTunnelError(err) ? err.code : undefined, err: (err as Error).message }, 'cannot lay out the hub<->hub tunnels; keeping the ones running');
        }
      } while (this.again);
    })().finally(() => {
      this.busy = undefined;
    });
    return this.busy;
  }

  /** Removes the tunnels this object brought up. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    clearTimeout(this.keyTimer);
    await this.busy;
    for (const name of this.running.keys()) await this.datapath.remove(name);
    this.running.clear();
  }

  private async syncOnce(): Promise<void> {
    const hubs = await this.registry.hubs.list(HUB_FRESH_MS);
    const self = hubs.find((hub) => hub.name === this.hubName);
    if (!self) return;
    const others = hubs.filter((hub) => hub.name !== this.hubName);
    let links = await this.registry.hubLinks.list();
    // Only a hub new to this one costs a write: syncs follow every session claim.
    const unlinked = others.filter((other) => !links.some((link) => link.hubs.includes(this.hubName) && link.hubs.includes(other.name)));
    for (const other of unlinked) await this.registry.hubLinks.ensure(this.hubName, other.name);
    if (unlinked.length > 0) links = await this.registry.hubLinks.list();
    const now = Date.now();
    const specs = hubToHubSpecs(this.routing, {
      self,
      others,
      links,
      owners: await this.registry.sessions.owners(),
      memberPrefixes: await this.memberPrefixes(),
      esp: await this.linkEsp(others, links, now),
    }, this.keepaliveInterval);
    const wanted = new Set<string>();
    for (const spec of specs) {
      wanted.add(spec.name);
      const other = others.find((hub) => tunnelOf(hub.name) === spec.name);
      const link = other && links.find((l) => l.hubs.includes(this.hubName) && l.hubs.includes(other.name));
      if (other && link) this.watch(spec.name, other, link.encap, link.pinned, now);
      const text = JSON.stringify(spec);
      if (this.running.get(spec.name) === text) continue;
      await this.datapath.upsert(spec, spec.name);
      this.running.set(spec.name, text);
      this.log.info({ tunnel: spec.name, remote: spec.remote, encap: spec.encap, routes: spec.routes?.length ?? 0 }, 'hub<->hub tunnel laid out');
    }
    for (const name of [...this.running.keys()]) {
      if (wanted.has(name)) continue;
      await this.datapath.remove(name);
      this.running.delete(name);
      this.watched.delete(name);
      this.log.info({ tunnel: name }, 'hub<->hub tunnel removed');
    }
  }

  /**
   * This hub's SAs towards every other hub whose link is encrypted (both encrypt), by the other
   * hub's name: the epoch this process starts with is written first, a rekey is written when the
   * newest epoch is an interval old and this hub has the lower name, and a re-lay is timed for
   * the next switch or grace's end. Links no longer encrypted are forgotten.
   */
  private async linkEsp(others: readonly { name: string; encrypt: boolean }[], links: readonly HubLinkRecord[], now: number): Promise<Map<string, WireTunnelEsp>> {
    const esp = new Map<string, WireTunnelEsp>();
    const encrypted = new Set<number>();
    let nextChange: number | null = null;
    for (const other of others) {
      const link = links.find((l) => l.hubs.includes(this.hubName) && l.hubs.includes(other.name));
      if (!link || !this.encryption.encrypt || !other.encrypt) continue;
      encrypted.add(link.id);
      const ref = { kind: 'hub' as const, hubLinkId: link.id };
      const first = link.hubs[0] === this.hubName;
      if (!this.keys.has(link.id)) {
        const epoch = await this.registry.saEpochs.start(ref, LINK_AEAD, HUB_START_REASON);
        this.keys.set(link.id, { newestAt: epoch.createdAt, first, pairs: new Map() });
        this.log.info({ tunnel: tunnelOf(other.name), epoch: epoch.epoch }, 'hub<->hub link SAs made for this start');
      }
      const keys = this.keys.get(link.id) as LinkKeys;
      let epochs = await this.registry.saEpochs.history(ref);
      if (first && epochs[0] && now - epochs[0].createdAt >= (this.encryption.rekeyIntervalMs ?? DEFAULT_REKEY_INTERVAL_MS)) {
        await this.registry.saEpochs.start(ref, LINK_AEAD, 'interval');
        epochs = await this.registry.saEpochs.history(ref);
        this.log.info({ tunnel: tunnelOf(other.name), epoch: epochs[0]?.epoch }, 'hub<->hub link rekeyed');
      }
      const current = epochs.slice(0, 2);
      this.master ??= Buffer.from(await this.registry.clusterSecrets.espMasterKey(generateEspMasterKey), 'base64url');
      for (const epoch of current) {
        if (!keys.pairs.has(epoch.epoch)) keys.pairs.set(epoch.epoch, deriveLinkSaPair(this.master, ref, epoch.epoch, epoch.aead));
      }
      for (const epoch of [...keys.pairs.keys()]) if (!current.some((kept) => kept.epoch === epoch)) keys.pairs.delete(epoch);
      keys.newestAt = current[0]?.createdAt ?? keys.newestAt;
      const plan = hubLinkEsp(current, keys.pairs, first, link.encap === 'fou' ? 'udp' : 'raw', now, this.encryption.graceMs ?? DEFAULT_REKEY_GRACE_MS);
      esp.set(other.name, plan.esp);
      if (plan.nextChangeAt !== null) nextChange = Math.min(nextChange ?? plan.nextChangeAt, plan.nextChangeAt);
    }
    for (const id of [...this.keys.keys()]) if (!encrypted.has(id)) this.keys.delete(id);
    clearTimeout(this.keyTimer);
    this.keyTimer = undefined;
    if (nextChange !== null && !this.closed) {
      this.keyTimer = setTimeout(() => void this.sync(), Math.max(0, nextChange - Date.now()) + 50);
      this.keyTimer.unref();
    }
    return esp;
  }

  /** An encrypted link whose newest epoch is an interval old, on the hub with the lower name: due for a rekey. */
  private rekeyDue(now: number): boolean {
    const interval = this.encryption.rekeyIntervalMs ?? DEFAULT_REKEY_INTERVAL_MS;
    for (const keys of this.keys.values()) if (keys.first && now - keys.newestAt >= interval) return true;
    return false;
  }

  /** Notes what a tunnel runs now; a new encapsulation, or a restart or absence of the other hub, starts its silence over. */
  private watch(name: string, other: { name: string; state: string; startedAt: number | null }, encap: HubLinkEncap, pinned: boolean, now: number): void {
    const before = this.watched.get(name);
    const restarted = this.otherStarts.has(other.name) && this.otherStarts.get(other.name) !== other.startedAt;
    this.otherStarts.set(other.name, other.startedAt);
    const fresh = !before || before.encap !== encap || restarted || other.state !== 'up';
    this.watched.set(name, fresh ? { other: other.name, encap, pinned, since: now, seenUp: null } : { ...before, pinned });
  }

  /**
   * Looks at each hub<->hub tunnel's liveness; one unanswered for long enough moves to the other
   * encapsulation (registry first, compare-and-set), and this hub re-lays it at once (the other
   * hub hears of it from the registry).
   */
  private async checkLiveness(): Promise<void> {
    if (!this.closed && this.rekeyDue(Date.now())) void this.sync();
    if (this.checking || this.closed || this.watched.size === 0) return;
    this.checking = true;
    try {
      const now = Date.now();
      const due: { name: string; link: WatchedLink; quietSince: number }[] = [];
      for (const [name, link] of this.watched) {
        const liveness = this.datapath.liveness?.(name);
        const state = liveness && liveness.tracked ? liveness.state : null;
        if (state === 'up') link.seenUp = now;
        // The datapath knows when the remote was last heard; polling only says when it last read up.
        const quietSince = Math.max(link.since, liveness?.lastHeardAt ?? link.seenUp ?? link.since);
        // Whether the other hub is alive costs a registry read: only for a link otherwise due.
        if (this.switchFor(link, state, quietSince, now, true)) due.push({ name, link, quietSince });
        else delete link.dueHeartbeat;
      }
      if (due.length === 0) return;
      const hubs = await this.registry.hubs.list(HUB_FRESH_MS);
      let switched = false;
      for (const { name, link, quietSince } of due) {
        const other = hubs.find((hub) => hub.name === link.other);
        const heartbeat = other?.lastHeartbeat ?? null;
        if (link.dueHeartbeat === undefined) {
          link.dueHeartbeat = heartbeat;
          continue;
        }
        const change = this.switchFor(link, 'down', quietSince, now, other?.state === 'up' && heartbeat !== null && heartbeat !== link.dueHeartbeat);
        if (!change) continue;
        delete link.dueHeartbeat;
        const mine = await this.registry.hubLinks.switchEncap(this.hubName, link.other, change.from, change.to, change.reason);
        if (mine) {
          this.log.warn({ tunnel: name, hubs: [this.hubName, link.other], from: change.from, to: change.to, reason: change.reason,
            quietMs: now - quietSince }, `hub<->hub link ${this.hubName}<->${link.other} moved from ${change.from} to ${change.to}: ${change.reason}`);
        }
        // Switched here or by the other hub meanwhile: either way the silence starts over with the re-lay.
        link.since = now;
        switched = true;
      }
      if (switched) await this.sync();
    } catch (err) {
      this.log.warn({ code: isTunnelError(err) ? err.code : undefined, err: (err as Error).message }, 'cannot check the hub<->hub links; trying again');
    } finally {
      this.checking = false;
    }
  }

  /** The switch `hubLinkSwitch` decides for one watched link, given its liveness and whether the other hub is up. */
  private switchFor(link: WatchedLink, liveness: 'up' | 'down' | null, quietSince: number, now: number, otherHubUp: boolean): HubLinkSwitch | null {
    return hubLinkSwitch({ encap: link.encap, pinned: link.pinned, liveness, quietSince, now, otherHubUp,
      keepaliveInterval: this.keepaliveInterval, keepaliveRetries: this.keepaliveRetries });
  }

  /** Per member: its hub-link /30, approved prefixes and peer-link addresses (what its hub routes to it). */
  private async memberPrefixes(): Promise<Map<string, string[]>> {
    const facts = await this.registry.routing.facts();
    // One read of the links gives both: each member's hub link /30, and its ends of peer links.
    const hubLinkPrefixes = new Map<string, string>();
    const linkAddresses = new Map<string, string[]>();
    for (const link of await this.registry.links.list()) {
      if (link.hubLink) hubLinkPrefixes.set(link.ends[1], link.prefix);
      else link.ends.forEach((end, i) => linkAddresses.set(end, [...(linkAddresses.get(end) ?? []), link.inner[i] as string]));
    }
    const prefixes = new Map<string, string[]>();
    for (const [member, prefix] of hubLinkPrefixes) {
      prefixes.set(member, [prefix, ...hubTunnelRoutes(facts, member, linkAddresses.get(member) ?? [])]);
    }
    return prefixes;
  }
}

function tunnelOf(hub: string): string {
  return tunnelInterfaceName(hub, HUB_LINK_PREFIX);
}
