import { readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { TunnelError } from '../errors.js';

/** Which program's state folder: the hub's or a member's. */
export type StateRole = 'hub' | 'client';

/**
 * The state folder, in docs/cli.md's order: `--state DIR`, then `$TUNNEL_HUB_STATE` or
 * `$TUNNEL_CLIENT_STATE`, then /var/lib/tunnel-<role> for root, else ~/.local/state/tunnel-<role>.
 * A service user (the systemd units' `tunnel-hub` and `tunnel-client`) owning
 * /var/lib/tunnel-<role> gets that folder too, so `sudo -u tunnel-hub tunnel-hub peer list` finds
 * the service's registry. Root is refused a folder another user owns (see assertStateDirOwner).
 */
export function resolveStateDir(role: StateRole, flag?: string): string {
  const dir = chooseStateDir(role, flag);
  assertStateDirOwner(dir, role);
  return dir;
}

function chooseStateDir(role: StateRole, flag?: string): string {
  if (flag) return resolve(flag);
  const fromEnv = role === 'hub' ? process.env.TUNNEL_HUB_STATE : process.env.TUNNEL_CLIENT_STATE;
  if (fromEnv) return resolve(fromEnv);
  const base = `tunnel-${role}`;
  const system = join('/var/lib', base);
  const uid = process.getuid?.();
  if (uid === 0 || (uid !== undefined && ownerOf(system) === uid)) return system;
  return join(homedir(), '.local', 'state', base);
}

/**
 * Root working in a state folder that belongs to a service user would leave files (a new key, the
 * database's -wal and -shm) the service can no longer open: refused, with the command to use.
 */
export function assertStateDirOwner(dir: string, role: StateRole): void {
  if (process.getuid?.() !== 0) return;
  const owner = ownerOf(dir);
  if (owner === undefined || owner === 0) return;
  const name = userName(owner) ?? String(owner);
  throw new TunnelError('ERR_STATE', `${dir} belongs to user ${name} (the service runs as it); run the command as that user, e.g. \`sudo -u ${name} tunnel-${role} …\`, so the service can still open every file`);
}

function ownerOf(path: string): number | undefined {
  try {
    return statSync(path).uid;
  } catch {
    return undefined;
  }
}

/** The login name of `uid` from /etc/passwd, for the message only. */
function userName(uid: number): string | undefined {
  try {
    return readFileSync('/etc/passwd', 'utf8').split('\n').map((line) => line.split(':')).find((fields) => Number(fields[2]) === uid)?.[0];
  } catch {
    return undefined;
  }
}
