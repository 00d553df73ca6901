import { AuditLog } from './audit-log.js';
import { ClusterSecretStore } from './cluster-secret-store.js';
import { DyndnsKeyStore } from './dyndns-key-store.js';
import { EndpointStore } from './endpoint-store.js';
import { HubDirectoryStore } from './hub-directory-store.js';
import { HubLinkStore } from './hub-link-store.js';
import { HubSettingsStore } from './hub-settings.js';
import { InviteStore } from './invite-store.js';
import { KeylessLinkStore } from './keyless-link-store.js';
import { LinkSaEpochStore } from './link-sa-epoch-store.js';
import { LinkPathStore } from './link-path-store.js';
import { LinkStore } from './link-store.js';
import { MemberSessionStore } from './member-session-store.js';
import { openRegistryBackend } from './open-registry-backend.js';
import { PeerOverviewStore } from './peer-overview-store.js';
import { PeerEncryptionStore } from './peer-encryption-store.js';
import { PeerRoutingStore } from './peer-routing-store.js';
import { PeerStore } from './peer-store.js';
import { PoolStore } from './pool-store.js';
import type { ChangeWatch, RegistryBackend, SqlExecutor } from './registry-backend.js';
import type { Clock, RegistryContext } from './registry-context.js';
import type { RegistrySnapshot } from './registry-snapshot.js';
import { SpecVersionStore } from './spec-version-store.js';
import { SubnetAllocator } from './subnet-allocator.js';

/** Options for {@link Registry.open}. */
export interface RegistryOptions {
  /** Time source for expiry and timestamps (ms since the epoch); defaults to Date.now. */
  clock?: Clock;
  /** Open without writing (no migrations); for inspection and tests. */
  readonly?: boolean;
}

/**
 * The hub's registry: pools, peers, SSH keys, invites, links with their /30s, endpoint history
 * and the audit log, over a {@link RegistryBackend}. Every method is asynchronous. Each method
 * that changes more than one row does it in one serialised transaction, so several processes may
 * share the registry. Inside {@link Registry.transaction}, use the registry handed to the callback.
 */
export class Registry {
  /** The hub's endpoint and GRE key counter. */
  readonly settings: HubSettingsStore;
  /** Address pools. */
  readonly pools: PoolStore;
  /** Peers, their SSH keys and token versions. */
  readonly peers: PeerStore;
  /** Hub and peer links, their /30s and tables. */
  readonly links: LinkStore;
  /** Invite bookkeeping and single-use redemption. */
  readonly invites: InviteStore;
  /** Peers' public endpoints over time. */
  readonly endpoints: EndpointStore;
  /** Audit log of admin and auth actions. */
  readonly audit: AuditLog;
  /** Versioned tunnel specs of both ends of hub links, and what each end confirmed. */
  readonly specs: SpecVersionStore;
  /** The encapsulation the hub chose per link (beneath any pin) and why. */
  readonly paths: LinkPathStore;
  /** Peers' dyndns2 keys (hashes only). */
  readonly dyndnsKeys: DyndnsKeyStore;
  /** Hub links that run GRE without a key, for routers that cannot set one. */
  readonly keyless: KeylessLinkStore;
  /** Prefixes behind members and the per-member source check. */
  readonly routing: PeerRoutingStore;
  /** Every peer's hub link, endpoint and spec versions in one read, for status reports. */
  readonly overview: PeerOverviewStore;
  /** The operator's per-peer encryption setting. */
  readonly encryption: PeerEncryptionStore;
  /** The SA epochs of encrypted links (the keys derive from them). */
  readonly saEpochs: LinkSaEpochStore;

  /** The hubs of a cluster, their endpoints, host keys and heartbeats. */
  readonly hubs: HubDirectoryStore;
  /** What the hubs of a cluster share: the token signing key and the ESP master key. */
  readonly clusterSecrets: ClusterSecretStore;
  /** Which hub of a cluster serves each member's session. */
  readonly sessions: MemberSessionStore;
  /** One /30 and GRE key per pair of hubs of a cluster. */
  readonly hubLinks: HubLinkStore;
  private readonly ctx: RegistryContext;

  private constructor(private readonly backend: RegistryBackend, sql: SqlExecutor, clock: Clock) {
    const ctx: RegistryContext = { sql, clock, transaction: (fn, scope) => sql.transaction((tx) => fn(new Registry(backend, tx, clock)), scope) };
    this.ctx = ctx;
    this.audit = new AuditLog(ctx);
    this.settings = new HubSettingsStore(ctx, this.audit);
    this.pools = new PoolStore(ctx, this.audit);
    this.endpoints = new EndpointStore(ctx);
    this.invites = new InviteStore(ctx, this.pools, this.audit);
    this.links = new LinkStore(ctx, this.settings, new SubnetAllocator(ctx), this.audit);
    this.peers = new PeerStore(ctx, this.settings, this.pools, this.links, this.invites, this.endpoints, this.audit);
    this.specs = new SpecVersionStore(ctx);
    this.paths = new LinkPathStore(ctx);
    this.dyndnsKeys = new DyndnsKeyStore(ctx, this.audit);
    this.keyless = new KeylessLinkStore(ctx, this.audit);
    this.routing = new PeerRoutingStore(ctx, this.audit);
    this.overview = new PeerOverviewStore(ctx);
    this.encryption = new PeerEncryptionStore(ctx, this.audit);
    this.saEpochs = new LinkSaEpochStore(ctx, this.audit);
    this.hubs = new HubDirectoryStore(ctx, this.audit);
    this.clusterSecrets = new ClusterSecretStore(ctx);
    this.sessions = new MemberSessionStore(ctx);
    this.hubLinks = new HubLinkStore(ctx, this.settings, new SubnetAllocator(ctx), this.audit);
  }

  /**
   * Opens (creating and migrating when needed) the registry at `location`: a SQLite file path
   * (`:memory:` for tests) or a `postgres://` URL shared by the hubs of a cluster.
   */
  static async open(location: string, options: RegistryOptions = {}): Promise<Registry> {
    return Registry.over(await openRegistryBackend(location, { readonly: options.readonly ?? false }), options.clock);
  }

  /** A registry over an opened backend. */
  static over(backend: RegistryBackend, clock: Clock = Date.now): Registry {
    return new Registry(backend, backend, clock);
  }

  /** Where the registry lives (`sqlite:PATH` or a PostgreSQL URL without its password). */
  get location(): string {
    return this.backend.location;
  }

  /**
   * Runs `fn` in one serialised transaction, so several store calls commit or roll back together
   * (each store call inside becomes a savepoint). `fn` must use the registry it is handed.
   */
  transaction<T>(fn: (tx: Registry) => Promise<T>): Promise<T> {
    return this.ctx.transaction(fn);
  }

  /** Calls `changed` after another process (the admin CLI, another hub) committed a change. */
  watchChanges(changed: () => void, onError: (err: Error) => void, pollMs: number): ChangeWatch {
    return this.backend.watchChanges(changed, onError, pollMs);
  }

  /** Every row of every table, to check that a refused operation changed nothing. */
  exportTables(): Promise<RegistrySnapshot> {
    return this.backend.exportTables();
  }

  /** A consistent copy of the whole registry in `file` (0600), taken while the hub runs. */
  backup(file: string): Promise<void> {
    return this.backend.backup(file);
  }

  /** Closes the backend. */
  close(): Promise<void> {
    return this.backend.close();
  }
}
