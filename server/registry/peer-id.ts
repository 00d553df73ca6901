import { TunnelError } from '../../shared/errors.js';
import type { RegistryContext } from './registry-context.js';

/** The row id of the peer named `name`, or ERR_PEER_NOT_FOUND. */
export async function requirePeerId(ctx: RegistryContext, name: string): Promise<number> {
  const row = await ctx.sql.get<{ id: number }>('SELECT id FROM peers WHERE name = ?', name);
  if (!row) throw new TunnelError('ERR_PEER_NOT_FOUND', `no peer named "${name}"; see \`tunnel-hub peer list\``);
  return row.id;
}
