import { createHash, createPrivateKey, type KeyObject } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import ssh2 from 'ssh2';
import { CLIENT_STATE_FOLDER, STATE_FOLDER_MODE, clientStateFile } from '../shared/cli/state-folder-layout.js';
import { TunnelError } from '../shared/errors.js';
import { generateEd25519KeyPair } from '../shared/ssh/generate-ed25519-key-pair.js';
import { readStateFileIfPresent } from './read-state-file.js';

/** The member's key pair: it signs client tokens (ed25519) and authenticates over SSH. */
export interface ClientIdentity {
  /** The private key as stored (OpenSSH or PEM), for ssh2. */
  readonly privateKeyText: string;
  /** The OpenSSH public key line `type base64`. */
  readonly publicKeyLine: string;
  /** `SHA256:…`, as the hub's registry records it. */
  readonly fingerprint: string;
  /** The key type, e.g. `ssh-ed25519`. */
  readonly algorithm: string;
  /** Node's key object for signing JWTs; only for ed25519 keys. */
  readonly signingKey: KeyObject | null;
}

/** Creates the state folder (0700) if needed. */
export function ensureStateDir(stateDir: string): void {
  try {
    mkdirSync(stateDir, { recursive: true, mode: STATE_FOLDER_MODE });
    chmodSync(stateDir, STATE_FOLDER_MODE);
  } catch (err) {
    throw new TunnelError('ERR_STATE', `cannot create the state folder ${stateDir}: ${(err as Error).message}`);
  }
}

/** The member's identity from the state folder, or undefined when there is none yet. */
export function loadIdentity(stateDir: string): ClientIdentity | undefined {
  const path = clientStateFile(stateDir, 'identity');
  const text = readStateFileIfPresent(path);
  if (text === undefined) return undefined;
  return identityFrom(text, path);
}

/** The member's identity, generating an Ed25519 key (stored 0600) on first use. */
export function loadOrCreateIdentity(stateDir: string): ClientIdentity {
  const existing = loadIdentity(stateDir);
  if (existing) return existing;
  ensureStateDir(stateDir);
  const pair = generateEd25519KeyPair('tunnel-client');
  return storeIdentity(stateDir, pair.private);
}

/** Adopts an existing private key file (`join ssh://… --key F`) as the member's identity. */
export function importIdentity(stateDir: string, keyFile: string): ClientIdentity {
  let text: string;
  try {
    text = readFileSync(keyFile, 'utf8');
  } catch (err) {
    throw new TunnelError('ERR_INVALID_ARGUMENT', `cannot read --key ${keyFile}: ${(err as Error).message}`);
  }
  identityFrom(text, keyFile);
  ensureStateDir(stateDir);
  return storeIdentity(stateDir, text);
}

function storeIdentity(stateDir: string, privateKeyText: string): ClientIdentity {
  const path = clientStateFile(stateDir, 'identity');
  const identity = identityFrom(privateKeyText, path);
  writeFileSync(path, privateKeyText, { mode: CLIENT_STATE_FOLDER.identity.mode });
  chmodSync(path, CLIENT_STATE_FOLDER.identity.mode);
  writeFileSync(clientStateFile(stateDir, 'identityPublicKey'), `${identity.publicKeyLine} tunnel-client\n`, { mode: CLIENT_STATE_FOLDER.identityPublicKey.mode });
  return identity;
}

function identityFrom(text: string, where: string): ClientIdentity {
  const parsed = ssh2.utils.parseKey(text);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || key instanceof Error || !key.isPrivateKey()) {
    const why = key instanceof Error ? key.message : 'not a private key';
    throw new TunnelError('ERR_SSH_KEY_INVALID', `${where} is not a usable unencrypted SSH private key (${why})`);
  }
  const blob = key.getPublicSSH();
  return {
    privateKeyText: text,
    publicKeyLine: `${key.type} ${blob.toString('base64')}`,
    fingerprint: `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`,
    algorithm: key.type,
    signingKey: key.type === 'ssh-ed25519' ? createPrivateKey(key.getPrivatePEM()) : null,
  };
}
