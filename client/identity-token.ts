import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { TunnelError } from '../shared/errors.js';
import { CLIENT_TOKEN_MAX_AGE_S, CLIENT_TOKEN_TYPE } from '../shared/protocol/index.js';
import type { ClientIdentity } from './identity.js';

/** Lifetime of each client token: short, since a fresh one is signed for every connection. */
const LIFETIME_S = 120;

/**
 * Signs a one-connection bearer token with the member's registered Ed25519 key: `iss`/`sub` =
 * the peer name, `aud` = the hub's id, a fresh `jti`, `kid` = the key's fingerprint.
 */
export async function signClientToken(identity: ClientIdentity, peer: string, hubId: string, now = Date.now()): Promise<string> {
  if (!identity.signingKey) {
    throw new TunnelError('ERR_SSH_KEY_INVALID', `the member key is ${identity.algorithm}; WebSocket sessions need an ed25519 key (connect over SSH instead)`);
  }
  const iat = Math.floor(now / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: 'EdDSA', typ: CLIENT_TOKEN_TYPE, kid: identity.fingerprint })
    .setIssuer(peer)
    .setSubject(peer)
    .setAudience(hubId)
    .setJti(randomUUID())
    .setIssuedAt(iat)
    .setExpirationTime(iat + Math.min(LIFETIME_S, CLIENT_TOKEN_MAX_AGE_S))
    .sign(identity.signingKey);
}
