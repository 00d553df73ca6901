import type { Logger } from 'pino';
import { isTunnelError } from '../../shared/errors.js';
import type { HubDatapath } from '../control/hub-datapath.js';
import { HUB_FRESH_MS } from '../hub/cluster-membership.js';
import type { Registry } from '../registry/registry.js';
import { hubTunnelRoutes } from '../routing/member-routes.js';
import type { RoutingMode } from '../routing/member-route-specs.js';
import { hubToHubSpecs } from './hub-to-hub-specs.js';

/**
 * Keeps this hub's tunnels to the other hubs of its cluster in line with the registry: makes the
 * link (its /30 and key) to each hub that joined, and re-lays each tunnel's routes whenever members
 * move or prefixes change. `sync()` may be called as often as anything changes: calls made while
 * one runs collapse into one more run after it.
 */
export class HubToHubLinks {
  private readonly running = new Map<string, string>();
  private busy: Promise<void> | undefined;
  private again = false;

  constructor(
    private readonly registry: Registry,
    private readonly hubName: string,
    private readonly datapath: HubDatapath,
    private readonly routing: RoutingMode,
    private readonly keepaliveInterval: number,
    private readonly log: Logger,
  ) {}

  /** Brings the tunnels in line with the registry now (or once more after the run in progress). */
  sync(): Promise<void> {
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
    const specs = hubToHubSpecs(this.routing, {
      self,
      others,
      links,
      owners: await this.registry.sessions.owners(),
      memberPrefixes: await this.memberPrefixes(),
    }, this.keepaliveInterval);
    const wanted = new Set<string>();
    for (const spec of specs) {
      wanted.add(spec.name);
      const text = JSON.stringify(spec);
      if (this.running.get(spec.name) === text) continue;
      await this.datapath.upsert(spec, spec.name);
      this.running.set(spec.name, text);
      this.log.info({ tunnel: spec.name, remote: spec.remote, routes: spec.routes?.length ?? 0 }, 'hub<->hub tunnel laid out');
    }
    for (const name of [...this.running.keys()]) {
      if (wanted.has(name)) continue;
      await this.datapath.remove(name);
      this.running.delete(name);
      this.log.info({ tunnel: name }, 'hub<->hub tunnel removed');
    }
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
