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
 * link or peer) fires the `allocations_release` trigger that files the /30 as free; a hub<->hub
 * link's row does the same through `hub_links_release`.
 */
export class SubnetAllocator {
  constructor(private readonly ctx: RegistryContext) {}

  /**
   * Allocates the lowest free /30 for `linkId`, from `poolId` only or else from the pools in
   * creation order, and returns its network address and pool. Must run inside a transaction;
   * the UNIQUE network key is the last line of defence against overlaps.
   */
  async allocate(linkId: number, poolId?: number): Promise<{ network: number; pool: string }> {
    const taken = await this.take(poolId);
    await this.ctx.sql.run('INSERT INTO allocations (network, pool_id, link_id) VALUES (?, ?, ?)', taken.network, taken.poolId, linkId);
    return { network: taken.network, pool: taken.pool };
  }

  /**
   * Takes the lowest free /30 off the free list or the cursor, for a caller that records it in a
   * table of its own (a hub<->hub link). Must run inside the transaction that records it.
   */
  async take(poolId?: number): Promise<{ network: number; poolId: number; pool: string }> {
    const { sql } = this.ctx;
    const pools = poolId === undefined
      ? await sql.all<PoolCursor>('SELECT id, cidr, network, next_network, end_network FROM pools ORDER BY id')
      : await sql.all<PoolCursor>('SELECT id, cidr, network, next_network, end_network FROM pools WHERE id = ?', poolId);
    for (const pool of pools) {
      const network = await this.takeFrom(pool);
      if (network !== undefined) return { network, poolId: pool.id, pool: pool.cidr };
    }
    throw exhausted(pools, poolId !== undefined);
  }

  private async takeFrom(pool: PoolCursor): Promise<number | undefined> {
    const { sql } = this.ctx;
    const released = await sql.get<{ network: number }>('SELECT network FROM free_subnets WHERE network >= ? AND network < ? ORDER BY network LIMIT 1',
      pool.network, pool.end_network);
    if (released) {
      await sql.run('DELETE FROM free_subnets WHERE network = ?', released.network);
      return released.network;
    }
    if (pool.next_network + LINK_SUBNET_SIZE <= pool.end_network) {
      await sql.run('UPDATE pools SET next_network = next_network + ? WHERE id = ?', LINK_SUBNET_SIZE, pool.id);
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
