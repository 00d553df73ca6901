import { readFileSync } from 'node:fs';
import { TunnelError } from '../../shared/errors.js';
import { parseSshPublicKey, type SshPublicKey } from '../auth/ssh-public-key.js';

/** Largest key file read: a public key line is well under this. */
const MAX_KEY_FILE_BYTES = 64 * 1024;

/** The SSH key given by `--ssh-key LINE` or `--ssh-key-file F` (not both), parsed and checked. */
export function sshKeyFromOptions(options: { sshKey?: string; sshKeyFile?: string }): SshPublicKey | undefined {
  if (options.sshKey !== undefined && options.sshKeyFile !== undefined) {
    throw new TunnelError('ERR_INVALID_ARGUMENT', 'give either --ssh-key or --ssh-key-file, not both');
  }
  if (options.sshKey !== undefined) return parseSshPublicKey(options.sshKey);
  if (options.sshKeyFile === undefined) return undefined;
  let text: Buffer;
  try {
    text = readFileSync(options.sshKeyFile);
  } catch (err) {
    throw new TunnelError('ERR_INVALID_ARGUMENT', `cannot read --ssh-key-file ${options.sshKeyFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (text.length > MAX_KEY_FILE_BYTES) throw new TunnelError('ERR_SSH_KEY_INVALID', `${options.sshKeyFile} is too large to be a public key`);
  return parseSshPublicKey(text.toString('utf8'));
}
