import { TunnelError } from '../../shared/errors.js';
import { describeLinkSubnet } from '../../shared/net/link-subnet.js';
import type { AuditLog } from './audit-log.js';
import type { HubSettingsStore } from './hub-settings.js';
import type { RegistryContext } from './registry-context.js';
import type { SubnetAllocator } from './subnet-allocator.js';

/** What a hub<->hub link runs: GRE, or FOU (GRE in UDP) where IP protocol 47 does not pass. */
export type HubLinkEncap = 'gre' | 'fou';

/** The encapsulations a hub<->hub link can run, for parsers. */
export const HUB_LINK_ENCAPS: readonly HubLinkEncap[] = ['gre', 'fou'];

/** The link between two hubs of a cluster: its /30 (the lower name has the lower address), GRE key and encapsulation. */
export interface HubLinkRecord {
  /** The row's id: an encrypted link's SA epochs belong to it. */
  readonly id: number;
  /** The two hubs, lower name first. */
  readonly hubs: readonly [string, string];
  readonly prefix: string;
  /** Each hub's address on the /30, in the order of `hubs`. */
  readonly inner: readonly [string, string];
  readonly greKey: number;
  readonly encap: HubLinkEncap;
  /** Why it runs `encap`: `default`, `gre-unanswered`, `fou-unanswered`, `pinned`, `unpinned`. */
  readonly encapReason: string;
  /** Pinned by an operator: never switched automatically. */
  readonly pinned: boolean;
  /** When the encapsulation or its pin last changed (ms), or null if never. */
  readonly encapChangedAt: number | null;
}

interface HubLinkRow {
  id: number;
  hubA: string;
  hubB: string;
  network: number;
  greKey: number;
  encap: HubLinkEncap;
  encapReason: string;
  pinned: number;
  encapChangedAt: number | null;
}

const SELECT_HUB_LINKS = `SELECT id, hub_a AS "hubA", hub_b AS "hubB", network, gre_key AS "greKey", encap, encap_reason AS "encapReason",
  encap_pinned AS pinned, encap_changed_at AS "encapChangedAt" FROM hub_links`;

/** Hub<->hub links (tables from HUB_LINK_MIGRATION and HUB_LINK_ENCAP_MIGRATION): one /30 and tunnel per pair of hubs. */
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
    const [first, second] = namesInOrder(a, b);
    return this.ctx.transaction((tx) => tx.hubLinks.create(first, second));
  }

  /** Every hub<->hub link. */
  async list(): Promise<HubLinkRecord[]> {
    return (await this.ctx.sql.all<HubLinkRow>(`${SELECT_HUB_LINKS} ORDER BY hub_a, hub_b`)).map(toRecord);
  }

  /**
   * Moves the link between `a` and `b` from `from` to `to` for `reason`, only if it still runs
   * `from` and is not pinned (compare and set): two hubs that notice at once switch it once. True
   * when this call switched it; false when another did first, it was pinned, or it is gone.
   */
  async switchEncap(a: string, b: string, from: HubLinkEncap, to: HubLinkEncap, reason: string): Promise<boolean> {
    const [first, second] = namesInOrder(a, b);
    return this.ctx.transaction(async (tx) => {
      const { changes } = await tx.hubLinks.ctx.sql.run(
        'UPDATE hub_links SET encap = ?, encap_reason = ?, encap_changed_at = ? WHERE hub_a = ? AND hub_b = ? AND encap = ? AND encap_pinned = 0',
        to, reason, this.ctx.clock(), first, second, from);
      if (changes === 0) return false;
      await tx.hubLinks.audit.record('hub.link.encap', `${first}<->${second}`, { from, to, reason });
      return true;
    });
  }

  /**
   * Pins the link between hubs `a` and `b` to `encap`, or frees it (null) to switch on its own
   * again, keeping what it runs. The link is made if it does not exist yet. Refuses two names
   * alike (ERR_INVALID_ARGUMENT) and a hub not in the cluster (ERR_HUB_NOT_FOUND), changing nothing.
   */
  pin(a: string, b: string, encap: HubLinkEncap | null): Promise<HubLinkRecord> {
    if (a === b) throw new TunnelError('ERR_INVALID_ARGUMENT', `a hub link joins two hubs; "${a}" was named twice`);
    if (encap !== null && !HUB_LINK_ENCAPS.includes(encap)) {
      throw new TunnelError('ERR_INVALID_ARGUMENT', `a hub link runs ${HUB_LINK_ENCAPS.join(' or ')}, not "${String(encap)}"`);
    }
    const [first, second] = namesInOrder(a, b);
    return this.ctx.transaction(async (tx) => {
      for (const name of [first, second]) {
        if (!(await tx.hubLinks.ctx.sql.get('SELECT name FROM hubs WHERE name = ?', name))) {
          throw new TunnelError('ERR_HUB_NOT_FOUND', `no hub named "${name}" in this cluster (tunnel-hub hubs lists them)`);
        }
      }
      await tx.hubLinks.create(first, second);
      if (encap === null) {
        await tx.hubLinks.ctx.sql.run(
          "UPDATE hub_links SET encap_pinned = 0, encap_reason = 'unpinned', encap_changed_at = ? WHERE hub_a = ? AND hub_b = ? AND encap_pinned = 1",
          this.ctx.clock(), first, second);
      } else {
        await tx.hubLinks.ctx.sql.run(
          "UPDATE hub_links SET encap = ?, encap_pinned = 1, encap_reason = 'pinned', encap_changed_at = ? WHERE hub_a = ? AND hub_b = ?",
          encap, this.ctx.clock(), first, second);
      }
      await tx.hubLinks.audit.record('hub.link.pin', `${first}<->${second}`, { encap: encap ?? 'auto' });
      const row = await tx.hubLinks.ctx.sql.get<HubLinkRow>(`${SELECT_HUB_LINKS} WHERE hub_a = ? AND hub_b = ?`, first, second);
      return toRecord(row as HubLinkRow);
    });
  }

  private async create(first: string, second: string): Promise<HubLinkRecord> {
    const existing = await this.ctx.sql.get<HubLinkRow>(`${SELECT_HUB_LINKS} WHERE hub_a = ? AND hub_b = ?`, first, second);
    if (existing) return toRecord(existing);
    const { network, poolId } = await this.allocator.take();
    const greKey = await this.settings.takeGreKey();
    const { id } = await this.ctx.sql.get<{ id: number }>('INSERT INTO hub_links (hub_a, hub_b, network, pool_id, gre_key, created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id',
      first, second, network, poolId, greKey, this.ctx.clock()) as { id: number };
    const record = toRecord({ id, hubA: first, hubB: second, network, greKey, encap: 'gre', encapReason: 'default', pinned: 0, encapChangedAt: null });
    await this.audit.record('hub.link.add', `${first}<->${second}`, { prefix: record.prefix, key: greKey });
    return record;
  }
}

/** A pair's row keys its two hubs lower name first. */
function namesInOrder(a: string, b: string): [string, string] {
  return a < b ? [a, b] : [b, a];
}

function toRecord(row: HubLinkRow): HubLinkRecord {
  const subnet = describeLinkSubnet(row.network);
  return {
    id: row.id, hubs: [row.hubA, row.hubB], prefix: subnet.prefix, inner: [subnet.firstEnd, subnet.secondEnd], greKey: row.greKey,
    encap: row.encap, encapReason: row.encapReason, pinned: row.pinned === 1, encapChangedAt: row.encapChangedAt,
  };
}
