import { createHash } from 'node:crypto';
import { ssh2Utils } from '../../shared/ssh/ssh2-utils.js';
import { TunnelError } from '../../shared/errors.js';

/** An accepted OpenSSH public key, in the form the registry stores. */
export interface SshPublicKey {
  /** The key type, e.g. `ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa`. */
  readonly algorithm: string;
  /** Canonical `type base64` (no comment), as in authorized_keys. */
  readonly publicKey: string;
  /** The comment after the key, or null. */
  readonly comment: string | null;
  /** `SHA256:…` exactly as `ssh-keygen -l` prints it. */
  readonly fingerprint: string;
}

const ACCEPTED = new Set(['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'ssh-rsa']);
const MIN_RSA_BITS = 2048;

function refuse(reason: string): never {
  throw new TunnelError('ERR_SSH_KEY_INVALID', reason);
}

/**
 * Parses one OpenSSH public key line (`ssh-ed25519 AAAA… comment`) with ssh2's parser and
 * accepts only ed25519, ECDSA (nistp256/384/521) and RSA of at least 2048 bits. Private keys,
 * DSA, certificates, several keys at once and anything unparseable are refused with the reason.
 */
export function parseSshPublicKey(text: string): SshPublicKey {
  const line = text.trim();
  if (line === '') refuse('the SSH key is empty');
  if (/PRIVATE KEY/.test(line)) refuse('that is a private key; give the public key (the .pub file) instead');
  if (/[\r\n]/.test(line)) refuse('give exactly one public key line (the text holds several lines)');
  const parsed = ssh2Utils().parseKey(line);
  if (parsed instanceof Error) refuse(`not an OpenSSH public key line (${parsed.message})`);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || (Array.isArray(parsed) && parsed.length !== 1)) refuse('give exactly one public key');
  if (key.isPrivateKey()) refuse('that is a private key; give the public key (the .pub file) instead');
  const algorithm = key.type;
  if (algorithm === 'ssh-dss') refuse('DSA keys are not accepted; use ed25519, ecdsa or rsa (2048 bits or more)');
  if (!ACCEPTED.has(algorithm) || line.split(/\s/, 1)[0] !== algorithm) {
    refuse(`key type "${line.split(/\s/, 1)[0] ?? ''}" is not accepted; use ed25519, ecdsa or rsa (2048 bits or more)`);
  }
  const blob = key.getPublicSSH();
  const base64 = blob.toString('base64');
  if (line.split(/\s+/)[1] !== base64) refuse('the key data is not in canonical form (trailing or padding bytes)');
  if (algorithm === 'ssh-rsa') {
    const bits = rsaModulusBits(blob);
    if (bits < MIN_RSA_BITS) refuse(`RSA keys need at least ${MIN_RSA_BITS} bits; this one has ${bits}`);
  }
  const comment = key.comment.trim();
  return {
    algorithm,
    publicKey: `${algorithm} ${base64}`,
    comment: comment === '' ? null : comment,
    fingerprint: sshFingerprint(blob),
  };
}

/** The `SHA256:` fingerprint of a public key blob, as `ssh-keygen -l` and sshd print it. */
export function sshFingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** Bit length of the modulus in an `ssh-rsa` blob: string type, mpint e, mpint n (RFC 4253 6.6). */
function rsaModulusBits(blob: Buffer): number {
  let offset = 0;
  const next = (): Buffer => {
    const length = blob.readUInt32BE(offset);
    const field = blob.subarray(offset + 4, offset + 4 + length);
    offset += 4 + length;
    return field;
  };
  next();
  next();
  const n = next();
  let start = 0;
  while (start < n.length && n[start] === 0) start++;
  if (start === n.length) return 0;
  return (n.length - start - 1) * 8 + (32 - Math.clz32(n[start] ?? 0));
}
