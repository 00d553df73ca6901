import { createHash } from 'node:crypto';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { ssh2Utils } from '../../shared/ssh/ssh2-utils.js';
import { HUB_STATE_FOLDER, hubStateFile } from '../../shared/cli/state-folder-layout.js';
import { TunnelError } from '../../shared/errors.js';
import { generateEd25519KeyPair } from '../../shared/ssh/generate-ed25519-key-pair.js';

/**
 * The hub's SSH host key: read from the state folder, or generated (ed25519) on first start and
 * written with mode 0600, so clients that pinned it keep trusting the hub across restarts.
 */
export function loadOrCreateSshHostKey(stateDir: string): string {
  const path = hubStateFile(stateDir, 'sshHostKey');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new TunnelError('ERR_STATE', `cannot read the SSH host key ${path}: ${(err as Error).message}`);
    }
    const pair = generateEd25519KeyPair('tunnel-hub host key');
    writeFileSync(path, pair.private, { mode: HUB_STATE_FOLDER.sshHostKey.mode, flag: 'wx' });
    writeFileSync(hubStateFile(stateDir, 'sshHostPublicKey'), `${pair.public}\n`, { mode: HUB_STATE_FOLDER.sshHostPublicKey.mode });
    return pair.private;
  }
  const parsed = ssh2Utils().parseKey(text);
  if (parsed instanceof Error || (Array.isArray(parsed) ? !parsed[0]?.isPrivateKey() : !parsed.isPrivateKey())) {
    throw new TunnelError('ERR_STATE', `${path} is not an SSH private key; move it away to have a new one generated`);
  }
  chmodSync(path, HUB_STATE_FOLDER.sshHostKey.mode);
  return text;
}

/** The `SHA256:…` fingerprint of a host private key's public half, as ssh-keygen -l prints it. */
export function sshHostKeyFingerprint(hostKey: string): string {
  const parsed = ssh2Utils().parseKey(hostKey);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || key instanceof Error) throw new TunnelError('ERR_STATE', 'the SSH host key cannot be read');
  return `SHA256:${createHash('sha256').update(key.getPublicSSH()).digest('base64').replace(/=+$/, '')}`;
}
