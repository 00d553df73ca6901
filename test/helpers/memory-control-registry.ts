import { TunnelError } from '../../shared/errors.js';
import type { Encapsulation } from '../../shared/net/encapsulation.js';
import type { EspPath } from '../../shared/protocol/index.js';
import { parseIpv4Address } from '../../shared/net/ipv4-address.js';
import type { WireTunnelSpec } from '../../shared/protocol/index.js';
import type {
  ClusterView, ControlRegistry, HubLinkFacts, IssuedVersions, PeerConfigBody, PeerLinkFacts, PeerStanding,
} from '../../server/control/control-registry.js';
import { peerRevocationError } from '../../server/control/peer-revocation-error.js';
import type { LinkAead, SaEpochRecord } from '../../server/registry/link-sa-epoch-store.js';
import { buildLinkTable, type LinkTable } from '../../server/registry/link-table.js';
import type { EncryptSetting } from '../../server/registry/peer-encryption-store.js';
import { HUB_END_NAME } from '../../server/registry/peer-name.js';
import type { RouteRequestOutcome } from '../../server/registry/peer-routing-store.js';
import type { MemberRoutingRecord } from '../../server/routing/member-route-specs.js';
import type { RoutingFacts } from '../../server/routing/member-routes.js';
import { checkRoutePrefix } from '../../server/routing/route-conflict.js';
import type { ShortcutRegistry, ShortcutRegistryView } from '../../server/shortcuts/shortcut-registry.js';
import { describeLinkSubnet } from '../../shared/net/link-subnet.js';

/** A link as the memory registry keeps it. */
interface MemoryLink {
  id: number;
  /** The first end (null: the hub) has the lower address. */
  a: string | null;
  b: string;
  network: number;
  greKey: number;
  keyless: boolean;
  /** Set on a shortcut: why the hub made it, and its last activity. */
  shortcut?: { why: string; lastActiveAt: number };
  createdAt: number;
}

interface MemoryPeer {
  revokedAt: number | null;
  pinnedEncap: Encapsulation | null;
  encrypt: EncryptSetting;
  sourceCheck: boolean;
  /** Verified addresses, oldest first. */
  endpoints: string[];
  routes: Map<string, 'pending' | 'approved'>;
  /** `peer set NAME --shortcuts on|off`. */
  shortcuts: boolean;
  config: { version: number; text: string; acked: number; reported: string | null } | undefined;
}

/** A call held open by `hold`. */
interface Hold {
  method: keyof ControlRegistry;
  peer: string | undefined;
  reached: () => void;
  released: Promise<void>;
}

/** One call the control plane made, in order: method and peer (or link id). */
export interface RegistryCall {
  method: keyof ControlRegistry;
  subject: string | number | undefined;
}

/** Methods that only read. */
const READS = new Set<keyof ControlRegistry>([
  'hubEndpoint', 'pinnedEncap', 'peerStanding', 'linksOf', 'latestEndpoint', 'routingFacts', 'memberRouting', 'servedElsewhere', 'clusterView',
  'espMasterKey', 'latestSaEpochs',
]);

/**
 * A ControlRegistry in memory, for unit tests of the control plane. It behaves like the registry
 * behind the real adapter in what the plane relies on: spec versions grow only when the stored
 * text changed, acks only grow (an ack of a version never issued is refused), pins and recorded
 * paths shape link tables as `buildLinkTable` does, revocation, session claims by the hubs of a
 * cluster, and prefixes behind members (requests, approvals, refusals). Operator methods stand in
 * for `tunnel-hub` commands; like them, they change the registry only, and the test calls
 * `reconcile` as the change watcher would. `calls` lists every call, and `hold` keeps one open.
 * It is the shortcut keeper's registry too: shortcuts are peer links with a why and an activity time.
 */
export class MemoryControlRegistry implements ControlRegistry, ShortcutRegistry {
  /** Every call the plane made, in order. */
  readonly calls: RegistryCall[] = [];
  private readonly peers = new Map<string, MemoryPeer>();
  private readonly links = new Map<number, MemoryLink>();
  private readonly paths = new Map<number, { encap: Encapsulation; reason: string; esp?: EspPath }>();
  /** SA epochs per link, oldest first; epoch numbers are unique across links, as the registry's ids. */
  private readonly epochs = new Map<number, SaEpochRecord[]>();
  private nextEpoch = 1;
  private readonly hubEnds = new Map<number, { version: number; text: string; applied: number }>();
  private readonly owners = new Map<string, string>();
  private readonly holds: Hold[] = [];
  private nextLinkId = 1;
  private nextNetwork = parseIpv4Address('10.99.0.0');
  private clock = 1;

  /**
   * `endpoint`: the hub's public address. `hubName`: this hub's name in a cluster (with `hubs`, the
   * cluster view members are told), absent for a hub alone.
   */
  constructor(private readonly options: { endpoint?: string; pools?: string[]; hubName?: string; hubs?: ClusterView['hubs'] } = {}) {}

  // --- operator side (what `tunnel-hub` commands change) ---

  /** `peer add NAME`: the peer and its hub link with a fresh /30 and GRE key. */
  addPeer(name: string, options: { keyless?: boolean } = {}): void {
    if (this.peers.has(name)) throw new TunnelError('ERR_PEER_EXISTS', `peer "${name}" exists`);
    this.peers.set(name, { revokedAt: null, pinnedEncap: null, encrypt: null, sourceCheck: true, shortcuts: true, endpoints: [], routes: new Map(), config: undefined });
    this.createLink(null, name, options.keyless ?? false);
  }

  /** `peer remove NAME`: the peer, its links, specs and session claim go. */
  removePeer(name: string): void {
    this.requirePeer(name);
    this.peers.delete(name);
    this.owners.delete(name);
    for (const link of [...this.links.values()]) {
      if (link.a !== name && link.b !== name) continue;
      this.links.delete(link.id);
      this.paths.delete(link.id);
      this.hubEnds.delete(link.id);
      this.epochs.delete(link.id);
    }
  }

  /** `peer revoke NAME` (true) or `peer restore NAME` (false). */
  setRevoked(name: string, revoked: boolean): void {
    this.requirePeer(name).revokedAt = revoked ? this.clock++ : null;
  }

  /** `peer pin NAME --encap E` (null: `auto`). */
  pin(name: string, encap: Encapsulation | null): void {
    this.requirePeer(name).pinnedEncap = encap;
  }

  /** `peer set NAME --encrypt on|off|default`. */
  setEncrypt(name: string, setting: EncryptSetting): void {
    this.requirePeer(name).encrypt = setting;
  }

  /** `peer rekey NAME`: a new epoch for each of the peer's links. */
  rekeyPeer(name: string): void {
    this.requirePeer(name);
    for (const link of this.links.values()) if (link.a === name || link.b === name) this.addEpoch(link.id, 'aes-gcm', 'operator');
  }

  /** `link add A B`: the link's id. */
  link(a: string, b: string): number {
    this.requirePeer(a);
    this.requirePeer(b);
    return this.createLink(a, b, false).id;
  }

  /** `peer set NAME --shortcuts on|off`. */
  setShortcuts(name: string, on: boolean): void {
    this.requirePeer(name).shortcuts = on;
  }

  /** `link remove A B` (an operator's link or a shortcut). */
  unlink(a: string, b: string): void {
    const link = this.peerLinkBetween(a, b);
    if (!link) throw new TunnelError('ERR_LINK_NOT_FOUND', `"${a}" and "${b}" are not linked`);
    this.dropLink(link.id);
  }

  /** The shortcut between two peers (either order), or undefined. */
  shortcutBetween(a: string, b: string): { linkId: number; why: string; lastActiveAt: number; prefix: string } | undefined {
    const link = this.peerLinkBetween(a, b);
    return link?.shortcut && { linkId: link.id, ...link.shortcut, prefix: describeLinkSubnet(link.network).prefix };
  }

  /** `peer route add PEER PREFIX` (or approving a request). */
  approveRoute(peer: string, prefix: string): void {
    const canonical = checkRoutePrefix(prefix, peer, this.claims());
    this.requirePeer(peer).routes.set(canonical, 'approved');
  }

  /** Another hub of the cluster claims the member's session (the member moved there). */
  claimFor(hub: string, peer: string): void {
    this.requirePeer(peer);
    this.owners.set(peer, hub);
  }

  // --- inspection ---

  /** The peer's stored config: version, the config as stored, the acked version and the reported address. */
  storedConfig(peer: string): { version: number; config: PeerConfigBody; acked: number; reported: string | null } | undefined {
    const config = this.requirePeer(peer).config;
    return config && { version: config.version, config: JSON.parse(config.text) as PeerConfigBody, acked: config.acked, reported: config.reported };
  }

  /** The stored hub end of the peer's hub link: version, spec and the version the hub applied. */
  storedHubEnd(peer: string): { version: number; spec: WireTunnelSpec; applied: number } | undefined {
    const stored = this.hubEnds.get(this.hubLinkOf(peer).id);
    return stored && { version: stored.version, spec: JSON.parse(stored.text) as WireTunnelSpec, applied: stored.applied };
  }

  /** The path recorded for a link, or undefined. */
  recordedPath(linkId: number): { encap: Encapsulation; reason: string; esp?: EspPath } | undefined {
    return this.paths.get(linkId);
  }

  /** The epochs made for a link, oldest first. */
  saEpochs(linkId: number): SaEpochRecord[] {
    return [...(this.epochs.get(linkId) ?? [])];
  }

  /** The id of the peer's hub link. */
  hubLinkId(peer: string): number {
    return this.hubLinkOf(peer).id;
  }

  /** The peer's verified addresses, oldest first. */
  endpointHistory(peer: string): string[] {
    return [...this.requirePeer(peer).endpoints];
  }

  /** The prefixes behind the peer and their state. */
  routes(peer: string): Record<string, 'pending' | 'approved'> {
    return Object.fromEntries(this.requirePeer(peer).routes);
  }

  /** How many calls were reads. */
  readCount(): number {
    return this.calls.filter((call) => READS.has(call.method)).length;
  }

  /**
   * Holds the next call of `method` (for `peer`, if given) open: it has made its read or write, and
   * its answer arrives only after `release()`. `reached` resolves once the call is made.
   */
  hold(method: keyof ControlRegistry, peer?: string): { reached: Promise<void>; release: () => void } {
    let reached!: () => void;
    let release!: () => void;
    const reachedPromise = new Promise<void>((resolve) => (reached = resolve));
    this.holds.push({ method, peer, reached, released: new Promise<void>((resolve) => (release = resolve)) });
    return { reached: reachedPromise, release };
  }

  // --- ControlRegistry ---

  async hubEndpoint(): Promise<string> {
    return this.answer('hubEndpoint', undefined, this.options.endpoint ?? '198.51.100.1');
  }

  async issueSpecs(peer: string, hubLinkId: number, hubEnd: WireTunnelSpec, peerConfig: PeerConfigBody, reported: string | null, seen: string | null): Promise<IssuedVersions> {
    const record = this.requirePeer(peer);
    if (seen !== null && record.endpoints.at(-1) !== seen) record.endpoints.push(seen);
    const hubText = JSON.stringify(hubEnd);
    const peerText = JSON.stringify(peerConfig);
    const hub = this.hubEnds.get(hubLinkId);
    const hubChanged = hub?.text !== hubText;
    const hubVersion = hubChanged ? (hub?.version ?? 0) + 1 : hub.version;
    if (hubChanged) this.hubEnds.set(hubLinkId, { version: hubVersion, text: hubText, applied: hub?.applied ?? 0 });
    const peerChanged = record.config?.text !== peerText;
    const peerVersion = peerChanged ? (record.config?.version ?? 0) + 1 : record.config!.version;
    if (peerChanged) record.config = { version: peerVersion, text: peerText, acked: record.config?.acked ?? 0, reported };
    return this.answer('issueSpecs', peer, { hubVersion, hubChanged, peerVersion, peerChanged });
  }

  async recordHubApplied(hubLinkId: number, version: number): Promise<void> {
    const hub = this.hubEnds.get(hubLinkId);
    if (hub && hub.applied < version) hub.applied = version;
    return this.answer('recordHubApplied', hubLinkId, undefined);
  }

  async recordPeerAck(peer: string, version: number): Promise<void> {
    const config = this.requirePeer(peer).config;
    if (!config || version > config.version) {
      throw new TunnelError('ERR_PROTOCOL', `peer "${peer}" acknowledged config version ${version}, which was never issued`);
    }
    config.acked = Math.max(config.acked, version);
    return this.answer('recordPeerAck', peer, undefined);
  }

  async pinnedEncap(peer: string): Promise<Encapsulation | null> {
    return this.answer('pinnedEncap', peer, this.peers.get(peer)?.pinnedEncap ?? null);
  }

  async peerStanding(peer: string): Promise<PeerStanding | undefined> {
    const record = this.peers.get(peer);
    return this.answer('peerStanding', peer, record && {
      revocation: peerRevocationError({ name: peer, revokedAt: record.revokedAt }), pinnedEncap: record.pinnedEncap, encrypt: record.encrypt,
    });
  }

  async linksOf(peer: string): Promise<{ hubLink: HubLinkFacts; peerLinks: PeerLinkFacts[] }> {
    this.requirePeer(peer);
    const hubLink = this.hubLinkOf(peer);
    const links = [...this.links.values()].filter((link) => link.a !== null && (link.a === peer || link.b === peer));
    return this.answer('linksOf', peer, {
      hubLink: { id: hubLink.id, table: this.tableOf(hubLink), greKey: hubLink.greKey, keyless: hubLink.keyless },
      peerLinks: links.map((link) => {
        const other = link.a === peer ? link.b : link.a!;
        return {
          linkId: link.id, other, otherEncrypt: this.peers.get(other)?.encrypt ?? null, table: this.tableOf(link), greKey: link.greKey, keyless: link.keyless,
          ...(link.shortcut ? { kind: 'shortcut' as const, why: link.shortcut.why, otherHubAddress: describeLinkSubnet(this.hubLinkOf(other).network).secondEnd } : {}),
        };
      }),
    });
  }

  async recordLinkPath(linkId: number, encap: Encapsulation, reason: string, esp?: EspPath): Promise<boolean> {
    if (!this.links.has(linkId)) throw new TunnelError('ERR_LINK_NOT_FOUND', `no link with id ${linkId}`);
    const current = this.paths.get(linkId);
    const changed = current?.encap !== encap || current.reason !== reason || current.esp !== esp;
    if (changed) this.paths.set(linkId, { encap, reason, ...(esp ? { esp } : {}) });
    return this.answer('recordLinkPath', linkId, changed);
  }

  async espMasterKey(): Promise<string> {
    return this.answer('espMasterKey', undefined, Buffer.alloc(32, 7).toString('base64url'));
  }

  async latestSaEpochs(linkIds: readonly number[]): Promise<Map<number, SaEpochRecord>> {
    const latest = new Map<number, SaEpochRecord>();
    for (const linkId of linkIds) {
      const newest = this.epochs.get(linkId)?.at(-1);
      if (newest) latest.set(linkId, newest);
    }
    return this.answer('latestSaEpochs', undefined, latest);
  }

  async startSaEpoch(linkId: number, aead: LinkAead, reason: string): Promise<SaEpochRecord> {
    if (!this.links.has(linkId)) throw new TunnelError('ERR_LINK_NOT_FOUND', `no link with id ${linkId}`);
    return this.answer('startSaEpoch', linkId, this.addEpoch(linkId, aead, reason));
  }

  async latestEndpoint(peer: string): Promise<string | null> {
    return this.answer('latestEndpoint', peer, this.peers.get(peer)?.endpoints.at(-1) ?? null);
  }

  async routingFacts(): Promise<RoutingFacts> {
    const approved = new Map<string, string[]>();
    for (const [name, peer] of [...this.peers].sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (peer.revokedAt !== null) continue;
      const prefixes = [...peer.routes].filter(([, state]) => state === 'approved').map(([prefix]) => prefix).sort();
      if (prefixes.length > 0) approved.set(name, prefixes);
    }
    return this.answer('routingFacts', undefined, { pools: this.pools(), approved });
  }

  async memberRouting(peer: string): Promise<MemberRoutingRecord> {
    const record = this.requirePeer(peer);
    const prefixes = [...record.routes].map(([prefix, state]) => ({ prefix, state })).sort((a, b) => (a.prefix < b.prefix ? -1 : 1));
    return this.answer('memberRouting', peer, { sourceCheck: record.sourceCheck, prefixes });
  }

  async claimSession(peer: string): Promise<void> {
    if (this.options.hubName !== undefined) this.owners.set(peer, this.options.hubName);
    return this.answer('claimSession', peer, undefined);
  }

  async servedElsewhere(peer: string): Promise<string | null> {
    const owner = this.options.hubName === undefined ? null : this.owners.get(peer) ?? null;
    return this.answer('servedElsewhere', peer, owner !== null && owner !== this.options.hubName ? owner : null);
  }

  async clusterView(): Promise<ClusterView | undefined> {
    const hub = this.options.hubName;
    return this.answer('clusterView', undefined, hub === undefined ? undefined : { hub, hubs: this.options.hubs ?? [] });
  }

  async recordRouteRequests(peer: string, prefixes: readonly string[]): Promise<RouteRequestOutcome[]> {
    const record = this.requirePeer(peer);
    const outcomes: RouteRequestOutcome[] = [];
    for (const prefix of new Set(prefixes)) {
      const state = record.routes.get(prefix);
      if (state) {
        outcomes.push({ prefix, state });
        continue;
      }
      try {
        record.routes.set(checkRoutePrefix(prefix, peer, this.claims()), 'pending');
        outcomes.push({ prefix, state: 'pending' });
      } catch (err) {
        if (!(err instanceof TunnelError)) throw err;
        outcomes.push({ prefix, state: 'refused', code: err.code, message: err.message });
      }
    }
    for (const [prefix, state] of record.routes) if (state === 'pending' && !prefixes.includes(prefix)) record.routes.delete(prefix);
    return this.answer('recordRouteRequests', peer, outcomes);
  }

  // --- ShortcutRegistry ---

  async view(): Promise<ShortcutRegistryView> {
    const peers = new Map([...this.peers].map(([name, peer]) => {
      const subnet = describeLinkSubnet(this.hubLinkOf(name).network);
      return [name, { hubPrefix: subnet.prefix, hubAddress: subnet.secondEnd, shortcuts: peer.shortcuts, revoked: peer.revokedAt !== null }] as const;
    }));
    const links = [...this.links.values()].filter((link) => link.a !== null).map((link) => ({
      linkId: link.id, ends: [link.a!, link.b] as const, kind: link.shortcut ? 'shortcut' as const : 'operator' as const,
      why: link.shortcut?.why ?? null, createdAt: link.createdAt, lastActiveAt: link.shortcut?.lastActiveAt ?? null,
    }));
    return { peers, links, routing: await this.routingFacts() };
  }

  async addShortcut(a: string, b: string, why: string): Promise<{ linkId: number }> {
    for (const name of [a, b]) {
      if (!this.requirePeer(name).shortcuts) throw new TunnelError('ERR_SHORTCUTS_OFF', `"${name}" has shortcuts off`);
    }
    if (this.peerLinkBetween(a, b)) throw new TunnelError('ERR_LINK_EXISTS', `"${a}" and "${b}" are linked already`);
    const link = this.createLink(a, b, false);
    link.shortcut = { why, lastActiveAt: link.createdAt };
    return { linkId: link.id };
  }

  async removeShortcut(a: string, b: string): Promise<void> {
    const link = this.peerLinkBetween(a, b);
    if (!link?.shortcut) throw new TunnelError('ERR_LINK_NOT_FOUND', `"${a}" and "${b}" have no shortcut`);
    this.dropLink(link.id);
  }

  async touchShortcut(a: string, b: string, at: number): Promise<void> {
    const link = this.peerLinkBetween(a, b);
    if (!link?.shortcut) throw new TunnelError('ERR_LINK_NOT_FOUND', `"${a}" and "${b}" have no shortcut`);
    link.shortcut.lastActiveAt = Math.max(link.shortcut.lastActiveAt, at);
  }

  // --- internals ---

  private peerLinkBetween(a: string, b: string): MemoryLink | undefined {
    return [...this.links.values()].find((link) => link.a !== null && ((link.a === a && link.b === b) || (link.a === b && link.b === a)));
  }

  private dropLink(id: number): void {
    this.links.delete(id);
    this.paths.delete(id);
  }

  /** Logs the call and returns its answer, after any hold on it is released. */
  private async answer<T>(method: keyof ControlRegistry, subject: string | number | undefined, value: T): Promise<T> {
    this.calls.push({ method, subject });
    const index = this.holds.findIndex((hold) => hold.method === method && (hold.peer === undefined || hold.peer === subject));
    if (index >= 0) {
      const [hold] = this.holds.splice(index, 1);
      hold!.reached();
      await hold!.released;
    }
    return value;
  }

  private requirePeer(name: string): MemoryPeer {
    const peer = this.peers.get(name);
    if (!peer) throw new TunnelError('ERR_PEER_NOT_FOUND', `peer "${name}" not found`);
    return peer;
  }

  private hubLinkOf(peer: string): MemoryLink {
    this.requirePeer(peer);
    const link = [...this.links.values()].find((candidate) => candidate.a === null && candidate.b === peer);
    if (!link) throw new TunnelError('ERR_LINK_NOT_FOUND', `peer "${peer}" has no hub link`);
    return link;
  }

  private addEpoch(linkId: number, aead: LinkAead, reason: string): SaEpochRecord {
    const record = { epoch: this.nextEpoch++, aead, reason, createdAt: this.clock++ };
    this.epochs.set(linkId, [...(this.epochs.get(linkId) ?? []), record]);
    return record;
  }

  private createLink(a: string | null, b: string, keyless: boolean): MemoryLink {
    const link: MemoryLink = { id: this.nextLinkId++, a, b, network: this.nextNetwork, greKey: 1000 + this.nextLinkId, keyless, createdAt: Date.now() };
    this.nextNetwork += 4;
    this.links.set(link.id, link);
    return link;
  }

  /** As the registry builds it: each end's pin and last verified address, the recorded path beneath the pins. */
  private tableOf(link: MemoryLink): LinkTable {
    const end = (name: string) => ({ name, public: this.peers.get(name)?.endpoints.at(-1) ?? null, pinnedEncap: this.peers.get(name)?.pinnedEncap ?? null });
    return buildLinkTable({
      network: link.network, greKey: link.greKey, keyless: link.keyless, decidedEncap: this.paths.get(link.id)?.encap ?? null,
      decidedEsp: this.paths.get(link.id)?.esp ?? null,
      ends: [link.a === null ? { name: HUB_END_NAME, public: this.options.endpoint ?? '198.51.100.1', pinnedEncap: null } : end(link.a), end(link.b)],
    });
  }

  private pools(): string[] {
    return this.options.pools ?? ['10.99.0.0/16'];
  }

  private claims(): { pools: string[]; approved: { peer: string; prefix: string }[] } {
    const approved = [...this.peers].flatMap(([peer, record]) => [...record.routes].filter(([, state]) => state === 'approved').map(([prefix]) => ({ peer, prefix })));
    return { pools: this.pools(), approved };
  }
}
