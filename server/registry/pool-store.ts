import { TunnelError } from '../../shared/errors.js';
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
  SELECT p.id, p.cidr, (p.end_network - p.network) / ${LINK_SUBNET_SIZE} AS subnets, p.created_at AS createdAt,
         (SELECT count(*) FROM allocations a WHERE a.network >= p.network AND a.network < p.end_network) AS used
  FROM pools p`;

/** Address pools, handed out in creation order. */
export class PoolStore {
  constructor(private readonly ctx: RegistryContext, private readonly audit: AuditLog) {}

  /**
   * Adds a pool. It must be a network address (`10.1.12.1/24` is refused with a hint), at least
   * a /30, and must not overlap an existing pool.
   */
  add(cidr: string): PoolRecord {
    const prefix = parseIpv4Prefix(cidr);
    if (prefix.length > LINK_PREFIX_LENGTH) {
      throw new TunnelError('ERR_POOL_TOO_SMALL', `pool ${cidr} is smaller than one /${LINK_PREFIX_LENGTH} link subnet; use a prefix length of ${LINK_PREFIX_LENGTH} or less`);
    }
    const canonical = formatIpv4Prefix(prefix);
    const end = prefix.network + prefixSize(prefix.length);
    return this.ctx.rdb.immediate(() => {
      const clash = this.ctx.rdb
        .statement('SELECT cidr FROM pools WHERE network < ? AND ? < end_network ORDER BY id LIMIT 1')
        .get(end, prefix.network) as { cidr: string } | undefined;
      if (clash?.cidr === canonical) throw new TunnelError('ERR_POOL_EXISTS', `pool ${canonical} already exists`);
      if (clash) throw new TunnelError('ERR_POOL_OVERLAP', `pool ${canonical} overlaps the existing pool ${clash.cidr}`);
      const { id } = this.ctx.rdb
        .statement(`INSERT INTO pools (cidr, network, prefix_length, end_network, next_network, created_at)
                    VALUES (?, ?, ?, ?, ?, ?) RETURNING id`)
        .get(canonical, prefix.network, prefix.length, end, prefix.network, this.ctx.clock()) as { id: number };
      this.audit.record('pool.add', canonical);
      return this.byId(id);
    });
  }

  /** All pools in allocation order (creation order). */
  list(): PoolRecord[] {
    return this.ctx.rdb.statement(`${LIST_SQL} ORDER BY p.id`).all() as PoolRecord[];
  }

  /** The pool with this exact CIDR, or ERR_POOL_NOT_FOUND. */
  require(cidr: string): PoolRecord {
    const canonical = formatIpv4Prefix(parseIpv4Prefix(cidr));
    const pool = this.ctx.rdb.statement(`${LIST_SQL} WHERE p.cidr = ?`).get(canonical) as PoolRecord | undefined;
    if (!pool) throw new TunnelError('ERR_POOL_NOT_FOUND', `no pool ${canonical}; see \`tunnel-hub pool list\``);
    return pool;
  }

  /**
   * Removes an unused pool. Refused while any link holds a /30 from it or a live invite names
   * it; spent or expired invites naming it are dropped with it.
   */
  remove(cidr: string): void {
    this.ctx.rdb.immediate(() => {
      const pool = this.require(cidr);
      if (pool.used > 0) {
        throw new TunnelError('ERR_POOL_IN_USE', `pool ${pool.cidr} still holds ${pool.used} link subnet(s); remove those peers or links first`);
      }
      const now = this.ctx.clock();
      const live = this.ctx.rdb
        .statement('SELECT count(*) AS n FROM invites WHERE pool_id = ? AND uses_left > 0 AND expires_at > ?')
        .get(pool.id, now) as { n: number };
      if (live.n > 0) {
        throw new TunnelError('ERR_POOL_IN_USE', `pool ${pool.cidr} is named by ${live.n} unexpired invite(s); wait for them to expire`);
      }
      this.ctx.rdb.statement('DELETE FROM invites WHERE pool_id = ?').run(pool.id);
      this.ctx.rdb.statement('DELETE FROM pools WHERE id = ?').run(pool.id);
      this.audit.record('pool.remove', pool.cidr);
    });
  }

  private byId(id: number): PoolRecord {
    return this.ctx.rdb.statement(`${LIST_SQL} WHERE p.id = ?`).get(id) as PoolRecord;
  }
}
