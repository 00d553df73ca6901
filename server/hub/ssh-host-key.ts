import { createHash } from 'node:crypto';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { TunnelError } from '../../shared/errors.js';
import { generateEd25519KeyPair } from '../../shared/ssh/generate-ed25519-key-pair.js';

/** File name of the hub's SSH host key in the state folder. */
export const SSH_HOST_KEY_FILE = 'ssh_host_ed25519_key';

/**
 * The hub's SSH host key: read from the state folder, or generated (ed25519) on first start and
 * written with mode 0600, so clients that pinned it keep trusting the hub across restarts.
 */
export function loadOrCreateSshHostKey(stateDir: string): string {
  const path = join(stateDir, SSH_HOST_KEY_FILE);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new TunnelError('ERR_STATE', `cannot read the SSH host key ${path}: ${(err as Error).message}`);
    }
    const pair = generateEd25519KeyPair('tunnel-hub host key');
    writeFileSync(path, pair.private, { mode: 0o600, flag: 'wx' });
    writeFileSync(`${path}.pub`, `${pair.public}\n`, { mode: 0o644 });
    return pair.private;
  }
  const parsed = ssh2.utils.parseKey(text);
  if (parsed instanceof Error || (Array.isArray(parsed) ? !parsed[0]?.isPrivateKey() : !parsed.isPrivateKey())) {
    throw new TunnelError('ERR_STATE', `${path} is not an SSH private key; move it away to have a new one generated`);
  }
  chmodSync(path, 0o600);
  return text;
}

/** The `SHA256:…` fingerprint of a host private key's public half, as ssh-keygen -l prints it. */
export function sshHostKeyFingerprint(hostKey: string): string {
  const parsed = ssh2.utils.parseKey(hostKey);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || key instanceof Error) throw new TunnelError('ERR_STATE', 'the SSH host key cannot be read');
  return `SHA256:${createHash('sha256').update(key.getPublicSSH()).digest('base64').replace(/=+$/, '')}`;
}
