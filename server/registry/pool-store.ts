import { TunnelError } from '../../shared/errors.js';
import { ipPrefixesOverlap, parseIpPrefix } from '../../shared/net/ip-prefix.js';
import { formatIpv4Prefix, parseIpv4Prefix, prefixSize } from '../../shared/net/ipv4-prefix.js';
import { LINK_PREFIX_LENGTH, LINK_SUBNET_SIZE } from '../../shared/net/link-subnet.js';
import type { AuditLog } from './audit-log.js';
import type { RegistryContext } from './registry-context.js';

/** An address pool and how much of it is handed out. */
export interface PoolRecord {
  readonly id: number;
  readonly cidr: string;
  /** Number of /30 link subnets the pool holds. */
  readonly subnets: number;
  /** How many of them are allocated now. */
  readonly used: number;
  readonly createdAt: number;
}

const LIST_SQL = `
  SELECT p.id, p.cidr, (p.end_network - p.network) / ${LINK_SUBNET_SIZE} AS subnets, p.created_at AS "createdAt",
         (SELECT count(*) FROM allocations a WHERE a.network >= p.network AND a.network < p.end_network)
         + (SELECT count(*) FROM hub_links h WHERE h.network >= p.network AND h.network < p.end_network) AS used
  FROM pools p`;

/** Address pools, handed out in creation order. */
export class PoolStore {
  constructor(private readonly ctx: RegistryContext, private readonly audit: AuditLog) {}

  /**
   * Adds a pool. It must be a network address (`10.1.12.1/24` is refused with a hint), at least
   * a /30, and must not overlap an existing pool.
   */
  async add(cidr: string): Promise<PoolRecord> {
    const prefix = parseIpv4Prefix(cidr);
    if (prefix.length > LINK_PREFIX_LENGTH) {
      throw new TunnelError('ERR_POOL_TOO_SMALL', `pool ${cidr} is smaller than one /${LINK_PREFIX_LENGTH} link subnet; use a prefix length of ${LINK_PREFIX_LENGTH} or less`);
    }
    return this.ctx.transaction((tx) => tx.pools.insert(prefix.network, prefix.length));
  }

  /** All pools in allocation order (creation order). */
  list(): Promise<PoolRecord[]> {
    return this.ctx.sql.all<PoolRecord>(`${LIST_SQL} ORDER BY p.id`);
  }

  /** The pool with this exact CIDR, or ERR_POOL_NOT_FOUND. */
  async require(cidr: string): Promise<PoolRecord> {
    const canonical = formatIpv4Prefix(parseIpv4Prefix(cidr));
    const pool = await this.ctx.sql.get<PoolRecord>(`${LIST_SQL} WHERE p.cidr = ?`, canonical);
    if (!pool) throw new TunnelError('ERR_POOL_NOT_FOUND', `no pool ${canonical}; see \`tunnel-hub pool list\``);
    return pool;
  }

  /**
   * Removes an unused pool. Refused while any link holds a /30 from it or a live invite names
   * it; spent or expired invites naming it are dropped with it.
   */
  async remove(cidr: string): Promise<void> {
    await this.ctx.transaction((tx) => tx.pools.delete(cidr));
  }

  private async insert(network: number, length: number): Promise<PoolRecord> {
    const canonical = formatIpv4Prefix({ network, length });
    const end = network + prefixSize(length);
    const clash = await this.ctx.sql.get<{ cidr: string }>('SELECT cidr FROM pools WHERE network < ? AND ? < end_network ORDER BY id LIMIT 1', end, network);
    if (clash?.cidr === canonical) throw new TunnelError('ERR_POOL_EXISTS', `pool ${canonical} already exists`);
    if (clash) throw new TunnelError('ERR_POOL_OVERLAP', `pool ${canonical} overlaps the existing pool ${clash.cidr}`);
    // A pool's addresses belong to the links: none may already be routed behind a member.
    const routes = await this.ctx.sql.all<{ peer: string; prefix: string }>(
      'SELECT p.name AS peer, r.prefix FROM peer_routes r JOIN peers p ON p.id = r.peer_id WHERE r.state = \'approved\'');
    const candidate = parseIpPrefix(canonical);
    const routed = routes.find((route) => ipPrefixesOverlap(parseIpPrefix(route.prefix), candidate));
    if (routed) throw new TunnelError('ERR_POOL_OVERLAP', `pool ${canonical} overlaps ${routed.prefix}, routed behind ${routed.peer}`);
    const row = await this.ctx.sql.get<{ id: number }>(`INSERT INTO pools (cidr, network, prefix_length, end_network, next_network, created_at)
                VALUES (?, ?, ?, ?, ?, ?) RETURNING id`, canonical, network, length, end, network, this.ctx.clock());
    await this.audit.record('pool.add', canonical);
    return this.byId((row as { id: number }).id);
  }

  private async delete(cidr: string): Promise<void> {
    const pool = await this.require(cidr);
    if (pool.used > 0) {
      throw new TunnelError('ERR_POOL_IN_USE', `pool ${pool.cidr} still holds ${pool.used} link subnet(s); remove those peers or links first`);
    }
    const now = this.ctx.clock();
    const live = await this.ctx.sql.get<{ n: number }>('SELECT count(*) AS n FROM invites WHERE pool_id = ? AND uses_left > 0 AND expires_at > ?', pool.id, now);
    if ((live?.n ?? 0) > 0) {
      throw new TunnelError('ERR_POOL_IN_USE', `pool ${pool.cidr} is named by ${live?.n} unexpired invite(s); wait for them to expire`);
    }
    await this.ctx.sql.run('DELETE FROM invites WHERE pool_id = ?', pool.id);
    await this.ctx.sql.run('DELETE FROM pools WHERE id = ?', pool.id);
    await this.audit.record('pool.remove', pool.cidr);
  }

  private async byId(id: number): Promise<PoolRecord> {
    return (await this.ctx.sql.get<PoolRecord>(`${LIST_SQL} WHERE p.id = ?`, id)) as PoolRecord;
  }
}
