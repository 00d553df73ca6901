import { TunnelError } from '../../shared/errors.js';
import type { Encapsulation } from '../../shared/net/encapsulation.js';
import { describeLinkSubnet } from '../../shared/net/link-subnet.js';
import type { EspPath } from '../../shared/protocol/tunnel-spec-schema.js';
import type { AuditLog } from './audit-log.js';
import type { HubSettingsStore } from './hub-settings.js';
import { buildLinkTable, type LinkTable } from './link-table.js';
import { HUB_END_NAME } from './peer-name.js';
import { requirePeerId } from './peer-id.js';
import type { RegistryContext } from './registry-context.js';
import type { SubnetAllocator } from './subnet-allocator.js';

/**
 * Who made a link: `hub` links come and go with their peer, `operator` links with `link add` and
 * `link remove`, and `shortcut` links are made by the hub for a busy member pair (and removed by
 * it when idle, or by `link remove`).
 */
export type LinkKind = 'hub' | 'operator' | 'shortcut';

/** Longest `why` of a shortcut. */
const MAX_WHY_LENGTH = 120;

/** One link and its /30. The first end (the hub, for hub links) has the lower usable address. */
export interface LinkRecord {
  readonly id: number;
  readonly ends: readonly [string, string];
  /** True for the hub<->peer link every peer gets; false for peer<->peer links. */
  readonly hubLink: boolean;
  readonly kind: LinkKind;
  /** Why the hub made a shortcut (`rate 3.2 Mbit/s`); null for other links. */
  readonly why: string | null;
  /** When traffic last crossed a shortcut (ms; its creation until then); null for other links. */
  readonly lastActiveAt: number | null;
  /** `10.1.12.36/30` */
  readonly prefix: string;
  /** The two ends' addresses on the /30, in the order of `ends`. */
  readonly inner: readonly [string, string];
  readonly greKey: number;
  /** The hub link runs GRE without its key (`peer add|set --no-key`). */
  readonly keyless: boolean;
  /** The pool the /30 came from. */
  readonly pool: string;
  readonly createdAt: number;
}

interface LinkRow {
  id: number;
  greKey: number;
  createdAt: number;
  hubLink: number;
  endA: string;
  endB: string;
  network: number;
  pool: string;
  encapA: Encapsulation | null;
  encapB: Encapsulation | null;
  publicA: string | null;
  publicB: string | null;
  decidedEncap: Encapsulation | null;
  decidedReason: string | null;
  decidedEsp: EspPath | null;
  keyless: number;
  why: string | null;
  lastActiveAt: number | null;
}

const LATEST_ADDRESS = (peer: string) => `(SELECT e.address FROM endpoints e WHERE e.peer_id = ${peer} ORDER BY e.id DESC LIMIT 1)`;

// The hub end of a member's link is wherever the hub serving the member is (in a cluster), else the hub's own.
const HUB_ADDRESS = `coalesce((SELECT h.endpoint FROM member_sessions s JOIN hubs h ON h.name = s.hub_name WHERE s.peer_id = l.end_b),
  (SELECT endpoint FROM hub WHERE id = 1))`;

const SELECT_LINKS = `
  SELECT l.id, l.gre_key AS "greKey", l.keyless, l.created_at AS "createdAt", CASE WHEN l.end_a IS NULL THEN 1 ELSE 0 END AS "hubLink",
         coalesce(pa.name, '${HUB_END_NAME}') AS "endA", pb.name AS "endB", a.network, p.cidr AS pool,
         (SELECT encap FROM peer_pins WHERE peer_id = pa.id) AS "encapA", (SELECT encap FROM peer_pins WHERE peer_id = pb.id) AS "encapB",
         lp.encap AS "decidedEncap", lp.reason AS "decidedReason", lp.esp AS "decidedEsp",
         CASE WHEN l.end_a IS NULL THEN ${HUB_ADDRESS} ELSE ${LATEST_ADDRESS('l.end_a')} END AS "publicA",
         ${LATEST_ADDRESS('l.end_b')} AS "publicB",
         ls.why, ls.last_active_at AS "lastActiveAt"
  FROM links l
  LEFT JOIN peers pa ON pa.id = l.end_a
  JOIN peers pb ON pb.id = l.end_b
  JOIN allocations a ON a.link_id = l.id
  JOIN pools p ON p.id = a.pool_id
  LEFT JOIN link_paths lp ON lp.link_id = l.id
  LEFT JOIN link_shortcuts ls ON ls.link_id = l.id`;

/**
 * Links with the peer named by both parameters at either end. By id, so each side uses its index
 * (links_end_a, links_end_b); by the joined names it was a scan of every link per call.
 */
const ENDS_OF_PEER = 'l.end_a = (SELECT id FROM peers WHERE name = ?) OR l.end_b = (SELECT id FROM peers WHERE name = ?)';

/** Links between the hub and peers and between peers, each with its /30 and GRE key. */
export class LinkStore {
  constructor(
    private readonly ctx: RegistryContext,
    private readonly settings: HubSettingsStore,
    private readonly allocator: SubnetAllocator,
    private readonly audit: AuditLog,
  ) {}

  /** Every link, hub links first, then by creation. `peerLinksOnly` leaves the hub links out. */
  async list(options: { peerLinksOnly?: boolean } = {}): Promise<LinkRecord[]> {
    const where = options.peerLinksOnly ? 'WHERE l.end_a IS NOT NULL' : '';
    return (await this.rows(`${SELECT_LINKS} ${where} ORDER BY l.end_a IS NOT NULL, l.id`)).map(toRecord);
  }

  /**
   * Every link with its table and why the hub chose its encapsulation (null before it chose), from
   * one read. `peerLinksOnly` leaves the hub links out.
   */
  async listWithTables(options: { peerLinksOnly?: boolean } = {}): Promise<{ link: LinkRecord; table: LinkTable; reason: string | null }[]> {
    const where = options.peerLinksOnly ? 'WHERE l.end_a IS NOT NULL' : '';
    return (await this.rows(`${SELECT_LINKS} ${where} ORDER BY l.end_a IS NOT NULL, l.id`)).map((row) => ({ link: toRecord(row), table: tableOf(row), reason: row.decidedReason }));
  }

  /** The links `peer` is an end of: its hub link first, then its peer links by creation. */
  async listForPeer(peer: string): Promise<LinkRecord[]> {
    // By name in one read (a hub asks on every session start); no row at all is looked at again to say why.
    const rows = await this.rows(`${SELECT_LINKS} WHERE ${ENDS_OF_PEER} ORDER BY l.end_a IS NOT NULL, l.id`, peer, peer);
    if (rows.length === 0) await requirePeerId(this.ctx, peer);
    return rows.map(toRecord);
  }

  /** The hub<->peer link of `peer`. */
  async hubLinkOf(peer: string): Promise<LinkRecord> {
    return toRecord(await this.hubLinkRow(peer));
  }

  /**
   * The hub link of `peer` and its peer links, each with its table, from one read (a hub wants
   * them all on every session start); ERR_PEER_NOT_FOUND, or ERR_LINK_NOT_FOUND without a hub link.
   */
  async linksWithTablesOf(peer: string): Promise<{ hubLink: { link: LinkRecord; table: LinkTable }; peerLinks: { link: LinkRecord; table: LinkTable }[] }> {
    const rows = await this.rows(`${SELECT_LINKS} WHERE ${ENDS_OF_PEER} ORDER BY l.end_a IS NOT NULL, l.id`, peer, peer);
    const [first] = rows;
    if (first === undefined || first.hubLink !== 1) {
      await requirePeerId(this.ctx, peer);
      throw new TunnelError('ERR_LINK_NOT_FOUND', `peer "${peer}" has no hub link`);
    }
    const withTable = (row: LinkRow): { link: LinkRecord; table: LinkTable } => ({ link: toRecord(row), table: tableOf(row) });
    return { hubLink: withTable(first), peerLinks: rows.slice(1).map(withTable) };
  }

  /** The /30 table of one link, with each end's latest known public address. */
  async table(linkId: number): Promise<LinkTable> {
    const [row] = await this.rows(`${SELECT_LINKS} WHERE l.id = ?`, linkId);
    if (!row) throw new TunnelError('ERR_LINK_NOT_FOUND', `no link with id ${linkId}`);
    return tableOf(row);
  }

  /** The tables of every link `peer` is an end of, hub link first. */
  async tablesForPeer(peer: string): Promise<LinkTable[]> {
    const id = await requirePeerId(this.ctx, peer);
    return (await this.rows(`${SELECT_LINKS} WHERE l.end_a = ? OR l.end_b = ? ORDER BY l.end_a IS NOT NULL, l.id`, id, id)).map(tableOf);
  }

  /**
   * Links two peers with a fresh /30 from the pools in order; `a` gets the lower address.
   * Refused when either is unknown or the hub, when a == b, or when they are already linked.
   */
  async addPeerLink(a: string, b: string): Promise<LinkRecord> {
    this.refuseHubEnd(a, b);
    if (a === b) throw new TunnelError('ERR_INVALID_ARGUMENT', `cannot link peer "${a}" to itself`);
    return this.ctx.transaction((tx) => tx.links.insertPeerLink(a, b));
  }

  /** Removes the link between two peers (either order), an operator's or a shortcut, and frees its /30. */
  async removePeerLink(a: string, b: string): Promise<LinkRecord> {
    this.refuseHubEnd(a, b);
    return this.ctx.transaction((tx) => tx.links.deletePeerLink(a, b));
  }

  /**
   * The hub links two members for their traffic: a shortcut with its own /30, `a` the lower
   * address, `why` saying what made it (`rate 3.2 Mbit/s`). Refused, changing nothing, as
   * {@link addPeerLink} is, for a `why` that is empty, too long or not printable ASCII, and when
   * either end has shortcuts off (ERR_SHORTCUTS_OFF).
   */
  async addShortcut(a: string, b: string, why: string): Promise<LinkRecord> {
    this.refuseHubEnd(a, b);
    if (a === b) throw new TunnelError('ERR_INVALID_ARGUMENT', `cannot link peer "${a}" to itself`);
    if (why.length === 0 || why.length > MAX_WHY_LENGTH || !/^[\x20-\x7e]+$/.test(why)) {
      throw new TunnelError('ERR_INVALID_ARGUMENT', `a shortcut's reason must be 1 to ${MAX_WHY_LENGTH} printable ASCII characters`);
    }
    return this.ctx.transaction((tx) => tx.links.insertShortcut(a, b, why));
  }

  /**
   * Removes the shortcut between two peers (either order) and frees its /30; `reason` (`idle`,
   * `failed`, …) goes to the audit log. An operator's link is never removed here
   * (ERR_LINK_NOT_FOUND, as when the two are not linked).
   */
  async removeShortcut(a: string, b: string, reason: string): Promise<LinkRecord> {
    this.refuseHubEnd(a, b);
    return this.ctx.transaction((tx) => tx.links.deleteShortcut(a, b, reason));
  }

  /** The shortcuts `peer` is an end of, oldest first. */
  async shortcutsOf(peer: string): Promise<LinkRecord[]> {
    const rows = await this.rows(`${SELECT_LINKS} WHERE ls.link_id IS NOT NULL AND (${ENDS_OF_PEER}) ORDER BY l.id`, peer, peer);
    if (rows.length === 0) await requirePeerId(this.ctx, peer);
    return rows.map(toRecord);
  }

  /**
   * Records traffic across the shortcut between two peers at `at` (default now); an earlier time
   * than the one recorded changes nothing. Returns when it was last active. ERR_LINK_NOT_FOUND
   * when the two have no shortcut.
   */
  touchShortcut(a: string, b: string, at: number = this.ctx.clock()): Promise<number> {
    return this.ctx.transaction((tx) => tx.links.writeLastActive(a, b, at));
  }

  /**
   * Creates the hub<->peer link of a new peer (the hub is the first end); call inside the
   * transaction that adds the peer. `poolId` restricts the /30 to one pool (an invite's).
   */
  createHubLink(peer: { id: number; name: string }, poolId?: number, keyless = false): Promise<LinkRecord> {
    return this.create(null, peer, poolId, keyless);
  }

  private async insertPeerLink(a: string, b: string): Promise<LinkRecord> {
    const ends = await this.unlinkedPair(a, b);
    const record = await this.create(...ends);
    await this.audit.record('link.add', `${a}<->${b}`, { prefix: record.prefix, key: record.greKey });
    return record;
  }

  private async insertShortcut(a: string, b: string, why: string): Promise<LinkRecord> {
    const ends = await this.unlinkedPair(a, b);
    const off = await this.ctx.sql.all<{ name: string }>('SELECT name FROM peers WHERE id IN (?, ?) AND shortcuts = 0 ORDER BY name', ends[0].id, ends[1].id);
    if (off.length > 0) {
      throw new TunnelError('ERR_SHORTCUTS_OFF', `${off.map((row) => `"${row.name}"`).join(' and ')} ${off.length > 1 ? 'have' : 'has'} shortcuts off (\`peer set NAME --shortcuts on\` turns them on)`);
    }
    const link = await this.create(...ends);
    await this.ctx.sql.run('INSERT INTO link_shortcuts (link_id, why, last_active_at) VALUES (?, ?, ?)', link.id, why, link.createdAt);
    await this.audit.record('shortcut.add', `${a}<->${b}`, { prefix: link.prefix, key: link.greKey, why });
    return { ...link, kind: 'shortcut', why, lastActiveAt: link.createdAt };
  }

  private async deletePeerLink(a: string, b: string): Promise<LinkRecord> {
    const linkId = await this.findPeerLink(await requirePeerId(this.ctx, a), await requirePeerId(this.ctx, b));
    if (linkId === undefined) throw new TunnelError('ERR_LINK_NOT_FOUND', `peers "${a}" and "${b}" are not linked`);
    const record = await this.byId(linkId);
    await this.deleteLink(record, 'link.remove', record.kind === 'shortcut' ? { kind: 'shortcut' } : {});
    return record;
  }

  private async deleteShortcut(a: string, b: string, reason: string): Promise<LinkRecord> {
    const record = await this.requireShortcut(a, b);
    await this.deleteLink(record, 'shortcut.remove', { reason });
    return record;
  }

  private async deleteLink(record: LinkRecord, action: string, detail: Record<string, unknown>): Promise<void> {
    await this.ctx.sql.run('DELETE FROM links WHERE id = ?', record.id);
    await this.audit.record(action, `${record.ends[0]}<->${record.ends[1]}`, { prefix: record.prefix, ...detail });
  }

  private async writeLastActive(a: string, b: string, at: number): Promise<number> {
    const record = await this.requireShortcut(a, b);
    await this.ctx.sql.run('UPDATE link_shortcuts SET last_active_at = ? WHERE link_id = ? AND last_active_at < ?', at, record.id, at);
    return Math.max(at, record.lastActiveAt ?? at);
  }

  /** The shortcut between two peers, or ERR_LINK_NOT_FOUND (an operator's link included). */
  private async requireShortcut(a: string, b: string): Promise<LinkRecord> {
    const linkId = await this.findPeerLink(await requirePeerId(this.ctx, a), await requirePeerId(this.ctx, b));
    const record = linkId === undefined ? undefined : await this.byId(linkId);
    if (record?.kind !== 'shortcut') {
      throw new TunnelError('ERR_LINK_NOT_FOUND', record === undefined
        ? `peers "${a}" and "${b}" are not linked`
        : `the link between "${a}" and "${b}" is the operator's, not a shortcut (\`link remove\` removes it)`);
    }
    return record;
  }

  /** Both peers' ids, refusing unknown peers and a pair already linked. */
  private async unlinkedPair(a: string, b: string): Promise<[{ id: number; name: string }, { id: number; name: string }]> {
    const idA = await requirePeerId(this.ctx, a);
    const idB = await requirePeerId(this.ctx, b);
    if (await this.findPeerLink(idA, idB)) throw new TunnelError('ERR_LINK_EXISTS', `peers "${a}" and "${b}" are already linked`);
    return [{ id: idA, name: a }, { id: idB, name: b }];
  }

  private async create(endA: { id: number; name: string } | null, endB: { id: number; name: string }, poolId?: number, keyless = false): Promise<LinkRecord> {
    const greKey = await this.settings.takeGreKey();
    const createdAt = this.ctx.clock();
    const { id } = await this.ctx.sql.get<{ id: number }>('INSERT INTO links (end_a, end_b, gre_key, keyless, created_at) VALUES (?, ?, ?, ?, ?) RETURNING id',
      endA?.id ?? null, endB.id, greKey, keyless ? 1 : 0, createdAt) as { id: number };
    const { network, pool } = await this.allocator.allocate(id, poolId);
    const subnet = describeLinkSubnet(network);
    return {
      id,
      ends: [endA?.name ?? HUB_END_NAME, endB.name],
      hubLink: endA === null,
      kind: endA === null ? 'hub' : 'operator',
      why: null,
      lastActiveAt: null,
      prefix: subnet.prefix,
      inner: [subnet.firstEnd, subnet.secondEnd],
      greKey,
      keyless,
      pool,
      createdAt,
    };
  }

  private async byId(linkId: number): Promise<LinkRecord> {
    const [row] = await this.rows(`${SELECT_LINKS} WHERE l.id = ?`, linkId);
    if (!row) throw new TunnelError('ERR_LINK_NOT_FOUND', `no link with id ${linkId}`);
    return toRecord(row);
  }

  private async findPeerLink(idA: number, idB: number): Promise<number | undefined> {
    const row = await this.ctx.sql.get<{ id: number }>('SELECT id FROM links WHERE (end_a = ? AND end_b = ?) OR (end_a = ? AND end_b = ?)',
      idA, idB, idB, idA);
    return row?.id;
  }

  private refuseHubEnd(a: string, b: string): void {
    if (a === HUB_END_NAME || b === HUB_END_NAME) {
      throw new TunnelError('ERR_INVALID_ARGUMENT', 'hub links come and go with their peer (`peer add` / `peer remove`); `link` is for peer<->peer links');
    }
  }

  private async hubLinkRow(peer: string): Promise<LinkRow> {
    const [row] = await this.rows(`${SELECT_LINKS} WHERE l.end_a IS NULL AND pb.name = ?`, peer);
    if (!row) {
      await requirePeerId(this.ctx, peer);
      throw new TunnelError('ERR_LINK_NOT_FOUND', `peer "${peer}" has no hub link`);
    }
    return row;
  }

  private rows(sql: string, ...params: unknown[]): Promise<LinkRow[]> {
    return this.ctx.sql.all<LinkRow>(sql, ...params);
  }
}

function toRecord(row: LinkRow): LinkRecord {
  const subnet = describeLinkSubnet(row.network);
  return {
    id: row.id,
    ends: [row.endA, row.endB],
    hubLink: row.hubLink === 1,
    kind: row.hubLink === 1 ? 'hub' : row.why === null ? 'operator' : 'shortcut',
    why: row.why,
    lastActiveAt: row.lastActiveAt,
    prefix: subnet.prefix,
    inner: [subnet.firstEnd, subnet.secondEnd],
    greKey: row.greKey,
    keyless: row.keyless === 1,
    pool: row.pool,
    createdAt: row.createdAt,
  };
}

function tableOf(row: LinkRow): LinkTable {
  return buildLinkTable({
    network: row.network,
    greKey: row.greKey,
    keyless: row.keyless === 1,
    decidedEncap: row.decidedEncap,
    decidedEsp: row.decidedEsp,
    ends: [
      { name: row.endA, public: row.publicA, pinnedEncap: row.encapA },
      { name: row.endB, public: row.publicB, pinnedEncap: row.encapB },
    ],
  });
}
