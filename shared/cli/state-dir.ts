import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/** Which program's state folder: the hub's or a member's. */
export type StateRole = 'hub' | 'client';

/**
 * The state folder, in INTERFACE.md's order: `--state DIR`, then `$TUNNEL_HUB_STATE` or
 * `$TUNNEL_CLIENT_STATE`, then /var/lib/tunnel-<role> for root, else ~/.local/state/tunnel-<role>.
 */
export function resolveStateDir(role: StateRole, flag?: string): string {
  if (flag) return resolve(flag);
  const fromEnv = role === 'hub' ? process.env.TUNNEL_HUB_STATE : process.env.TUNNEL_CLIENT_STATE;
  if (fromEnv) return resolve(fromEnv);
  const base = `tunnel-${role}`;
  if (process.getuid?.() === 0) return join('/var/lib', base);
  return join(homedir(), '.local', 'state', base);
}
