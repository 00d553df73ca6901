import { AuditLog } from './audit-log.js';
import { DyndnsKeyStore } from './dyndns-key-store.js';
import { EndpointStore } from './endpoint-store.js';
import { exportTables, type RegistrySnapshot } from './export-tables.js';
import { HubSettingsStore } from './hub-settings.js';
import { InviteStore } from './invite-store.js';
import { KeylessLinkStore } from './keyless-link-store.js';
import { LinkPathStore } from './link-path-store.js';
import { LinkStore } from './link-store.js';
import { PeerRoutingStore } from './peer-routing-store.js';
import { PeerStore } from './peer-store.js';
import { PoolStore } from './pool-store.js';
import type { Clock, RegistryContext } from './registry-context.js';
import { RegistryDatabase } from './registry-database.js';
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
 * The hub's registry: one SQLite file holding pools, peers, SSH keys, invites, links with their
 * /30s, endpoint history and the audit log. Each method that changes more than one row does it
 * in one IMMEDIATE transaction, so several processes may share the file.
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

  private constructor(private readonly rdb: RegistryDatabase, clock: Clock) {
    const ctx: RegistryContext = { rdb, clock };
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
  }

  /** Opens (creating and migrating when needed) the registry file at `path`; `:memory:` for tests. */
  static open(path: string, options: RegistryOptions = {}): Registry {
    return new Registry(RegistryDatabase.open(path, { readonly: options.readonly ?? false }), options.clock ?? Date.now);
  }

  /**
   * Runs `fn` in one IMMEDIATE transaction, so several store calls commit or roll back together
   * (each store call inside becomes a savepoint).
   */
  transaction<T>(fn: () => T): T {
    return this.rdb.immediate(fn);
  }

  /**
   * SQLite's data_version: it changes whenever another connection (another process, such as the
   * admin CLI) commits, so a running hub can poll it to notice `link add` or `peer pin`.
   */
  dataVersion(): number {
    return this.rdb.db.pragma('data_version', { simple: true }) as number;
  }

  /** Every row of every table, to check that a refused operation changed nothing. */
  exportTables(): RegistrySnapshot {
    return exportTables(this.rdb);
  }

  /** Closes the database connection. */
  close(): void {
    this.rdb.close();
  }
}
