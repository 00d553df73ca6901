import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { chmodSync, linkSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { HUB_STATE_FOLDER } from '../../shared/cli/state-folder-layout.js';
import { TunnelError } from '../../shared/errors.js';

/** The hub's Ed25519 token signing key pair. */
export interface HubSigningKey {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

/**
 * Creates the signing key file (PKCS8 PEM, mode 0600) unless it already exists, so `init` can be
 * run again safely. Returns true when a new key was written. The file is written aside and then
 * hard-linked into place: two racing `init`s never leave a half-written or replaced key.
 */
export function ensureHubSigningKey(path: string): boolean {
  try {
    readFileSync(path);
    chmodSync(path, HUB_STATE_FOLDER.signingKey.mode);
    return false;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw stateError(path, err);
  }
  const pem = generateHubSigningKeyPem();
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, pem, { mode: HUB_STATE_FOLDER.signingKey.mode, flag: 'wx' });
  try {
    linkSync(temporary, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw stateError(path, err);
  } finally {
    unlinkSync(temporary);
  }
}

/** Loads the signing key written by {@link ensureHubSigningKey}; refuses anything but Ed25519. */
export function loadHubSigningKey(path: string): HubSigningKey {
  let pem: Buffer;
  try {
    pem = readFileSync(path);
  } catch (err) {
    throw stateError(path, err);
  }
  return parseHubSigningKey(pem, path);
}

/** A new Ed25519 signing key as PKCS8 PEM, for a cluster's registry to share. */
export function generateHubSigningKeyPem(): string {
  return generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

/** The key pair from PKCS8 PEM found at `source` (a file, or the registry); refuses anything but Ed25519. */
export function parseHubSigningKey(pem: string | Buffer, source: string): HubSigningKey {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch (err) {
    throw stateError(source, err);
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw new TunnelError('ERR_STATE', `the signing key ${source} is ${privateKey.asymmetricKeyType ?? 'not an asymmetric key'}, expected ed25519`);
  }
  return { privateKey, publicKey: createPublicKey(privateKey) };
}

function stateError(path: string, err: unknown): TunnelError {
  const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'it does not exist (run `tunnel-hub init`)' : (err as Error).message;
  return new TunnelError('ERR_STATE', `cannot read the hub signing key ${path}: ${reason}`, { cause: err });
}
