import { TunnelError } from '../../shared/errors.js';
import type { RegistryContext } from './registry-context.js';

/** The row id of the peer named `name`, or ERR_PEER_NOT_FOUND. */
export function requirePeerId(ctx: RegistryContext, name: string): number {
  const row = ctx.rdb.statement('SELECT id FROM peers WHERE name = ?').get(name) as { id: number } | undefined;
  if (!row) throw new TunnelError('ERR_PEER_NOT_FOUND', `no peer named "${name}"; see \`tunnel-hub peer list\``);
  return row.id;
}
