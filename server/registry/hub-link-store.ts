import { describeLinkSubnet } from '../../shared/net/link-subnet.js';
import type { AuditLog } from './audit-log.js';
import type { HubSettingsStore } from './hub-settings.js';
import type { RegistryContext } from './registry-context.js';
import type { SubnetAllocator } from './subnet-allocator.js';

/** The link between two hubs of a cluster: its /30 (the lower name has the lower address) and GRE key. */
export interface HubLinkRecord {
  /** The two hubs, lower name first. */
  readonly hubs: readonly [string, string];
  readonly prefix: string;
  /** Each hub's address on the /30, in the order of `hubs`. */
  readonly inner: readonly [string, string];
  readonly greKey: number;
}

interface HubLinkRow {
  hubA: string;
  hubB: string;
  network: number;
  greKey: number;
}

const SELECT_HUB_LINKS = 'SELECT hub_a AS "hubA", hub_b AS "hubB", network, gre_key AS "greKey" FROM hub_links';

/** Hub<->hub links (table from HUB_LINK_MIGRATION): one /30 and tunnel per pair of hubs. */
export class HubLinkStore {
  constructor(
    private readonly ctx: RegistryContext,
    private readonly settings: HubSettingsStore,
    private readonly allocator: SubnetAllocator,
    private readonly audit: AuditLog,
  ) {}

  /**
   * The link between hubs `a` and `b`, made when it does not exist yet: a /30 from the pools in
   * creation order and a GRE key from the cluster's counter, in one transaction.
   */
  ensure(a: string, b: string): Promise<HubLinkRecord> {
    const [first, second] = a < b ? [a, b] : [b, a];
    return this.ctx.transaction((tx) => tx.hubLinks.create(first, second));
  }

  /** Every hub<->hub link. */
  async list(): Promise<HubLinkRecord[]> {
    return (await this.ctx.sql.all<HubLinkRow>(`${SELECT_HUB_LINKS} ORDER BY hub_a, hub_b`)).map(toRecord);
  }

  private async create(first: string, second: string): Promise<HubLinkRecord> {
    const existing = await this.ctx.sql.get<HubLinkRow>(`${SELECT_HUB_LINKS} WHERE hub_a = ? AND hub_b = ?`, first, second);
    if (existing) return toRecord(existing);
    const { network, poolId } = await this.allocator.take();
    const greKey = await this.settings.takeGreKey();
    await this.ctx.sql.run('INSERT INTO hub_links (hub_a, hub_b, network, pool_id, gre_key, created_at) VALUES (?, ?, ?, ?, ?, ?)',
      first, second, network, poolId, greKey, this.ctx.clock());
    const record = toRecord({ hubA: first, hubB: second, network, greKey });
    await this.audit.record('hub.link.add', `${first}<->${second}`, { prefix: record.prefix, key: greKey });
    return record;
  }
}

function toRecord(row: HubLinkRow): HubLinkRecord {
  const subnet = describeLinkSubnet(row.network);
  return { hubs: [row.hubA, row.hubB], prefix: subnet.prefix, inner: [subnet.firstEnd, subnet.secondEnd], greKey: row.greKey };
}
