import { TunnelError } from '../../shared/errors.js';
import { LINK_SUBNET_SIZE } from '../../shared/net/link-subnet.js';
import type { RegistryContext } from './registry-context.js';

interface PoolCursor {
  id: number;
  cidr: string;
  network: number;
  next_network: number;
  end_network: number;
}

/**
 * Hands out link /30s. Each pool keeps a cursor below which every /30 has been handed out at
 * least once, plus a list of released /30s under the cursor. The lowest free /30 is therefore
 * the smallest released one, else the cursor: two indexed look-ups, no scan of what is in use.
 * Releasing needs no code here: deleting an allocation row (directly or by cascade from its
 * link or peer) fires the `allocations_release` trigger that files the /30 as free.
 */
export class SubnetAllocator {
  constructor(private readonly ctx: RegistryContext) {}

  /**
   * Allocates the lowest free /30 for `linkId`, from `poolId` only or else from the pools in
   * creation order, and returns its network address and pool. Must run inside an IMMEDIATE transaction;
   * the UNIQUE network key is the last line of defence against overlaps.
   */
  allocate(linkId: number, poolId?: number): { network: number; pool: string } {
    const { rdb } = this.ctx;
    const pools = (poolId === undefined
      ? rdb.statement('SELECT id, cidr, network, next_network, end_network FROM pools ORDER BY id').all()
      : rdb.statement('SELECT id, cidr, network, next_network, end_network FROM pools WHERE id = ?').all(poolId)) as PoolCursor[];
    for (const pool of pools) {
      const network = this.takeFrom(pool);
      if (network !== undefined) {
        rdb.statement('INSERT INTO allocations (network, pool_id, link_id) VALUES (?, ?, ?)').run(network, pool.id, linkId);
        return { network, pool: pool.cidr };
      }
    }
    throw exhausted(pools, poolId !== undefined);
  }

  private takeFrom(pool: PoolCursor): number | undefined {
    const { rdb } = this.ctx;
    const released = rdb
      .statement('SELECT network FROM free_subnets WHERE network >= ? AND network < ? ORDER BY network LIMIT 1')
      .get(pool.network, pool.end_network) as { network: number } | undefined;
    if (released) {
      rdb.statement('DELETE FROM free_subnets WHERE network = ?').run(released.network);
      return released.network;
    }
    if (pool.next_network + LINK_SUBNET_SIZE <= pool.end_network) {
      rdb.statement('UPDATE pools SET next_network = next_network + ? WHERE id = ?').run(LINK_SUBNET_SIZE, pool.id);
      return pool.next_network;
    }
    return undefined;
  }
}

function exhausted(pools: PoolCursor[], onePool: boolean): TunnelError {
  if (pools.length === 0) {
    return new TunnelError('ERR_POOL_EXHAUSTED', 'there is no address pool to take a /30 from; add one with `tunnel-hub pool add CIDR`');
  }
  const names = pools.map((pool) => pool.cidr).join(', ');
  const advice = onePool ? 'remove unused peers or links in it' : 'add a pool with `tunnel-hub pool add CIDR` or remove unused peers or links';
  return new TunnelError('ERR_POOL_EXHAUSTED', `no free /30 left in ${names}; ${advice}`);
}
