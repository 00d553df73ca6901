import type { KeyObject } from 'node:crypto';
import { errors, jwtVerify, type JWTPayload } from 'jose';
import { TunnelError } from '../../shared/errors.js';
import { TOKEN_ALGORITHM, TOKEN_AUDIENCE, TOKEN_ISSUER, type InviteClaims, type PeerTokenClaims } from './token-claims.js';
import type { VerifiedTokenCache } from './verified-token-cache.js';

/** Options shared by the verifiers; `now` (ms) is injectable so tests control expiry. */
export interface VerifyOptions {
  readonly now?: number;
}

/**
 * Checks an invite's signature (EdDSA only), issuer, audience, expiry and type. Single use is
 * the registry's part: pass the jti to `registry.invites.redeem` (or `peers.add({inviteJti})`).
 */
export async function verifyInviteToken(token: string, publicKey: KeyObject, options: VerifyOptions = {}): Promise<InviteClaims> {
  const payload = await verifySigned(token, publicKey, 'invite', options);
  if (typeof payload.jti !== 'string' || payload.jti === '') throw invalid('the invite has no id');
  const pool = payload.pool;
  if (pool !== undefined && typeof pool !== 'string') throw invalid('the invite names a malformed pool');
  return { jti: payload.jti, expiresAt: (payload.exp as number) * 1000, pool: pool ?? null };
}

/**
 * Checks a peer token like {@link verifyInviteToken}, then revocation: `currentVersion(name)`
 * must return the peer's token version (undefined for an unknown peer) and it must equal the
 * token's `ver` → else ERR_TOKEN_REVOKED. With `verified`, a token whose signature was checked
 * before (and has not expired) skips that check; the version is asked on every call.
 */
export async function verifyPeerToken(
  token: string,
  publicKey: KeyObject,
  options: VerifyOptions & {
    currentVersion: (name: string) => Promise<number | undefined> | number | undefined;
    verified?: VerifiedTokenCache<PeerTokenClaims>;
  },
): Promise<PeerTokenClaims> {
  const now = options.now ?? Date.now();
  let claims = options.verified?.get(token, now);
  if (claims === undefined) {
    const payload = await verifySigned(token, publicKey, 'peer', { now });
    if (typeof payload.sub !== 'string' || payload.sub === '') throw invalid('the token names no peer');
    if (typeof payload.ver !== 'number' || !Number.isInteger(payload.ver)) throw invalid('the token has no version');
    claims = { name: payload.sub, version: payload.ver, expiresAt: (payload.exp as number) * 1000 };
    options.verified?.set(token, claims, claims.expiresAt);
  }
  const current = await options.currentVersion(claims.name);
  if (current === undefined) throw new TunnelError('ERR_TOKEN_REVOKED', `peer "${claims.name}" no longer exists`);
  if (current !== claims.version) throw new TunnelError('ERR_TOKEN_REVOKED', `the token of peer "${claims.name}" has been revoked`);
  return claims;
}

async function verifySigned(token: string, publicKey: KeyObject, typ: 'invite' | 'peer', options: VerifyOptions): Promise<JWTPayload> {
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, publicKey, {
      algorithms: [TOKEN_ALGORITHM],
      issuer: TOKEN_ISSUER,
      audience: TOKEN_AUDIENCE,
      requiredClaims: ['exp', 'iat'],
      currentDate: new Date(options.now ?? Date.now()),
    }));
  } catch (err) {
    if (err instanceof errors.JWTExpired) throw new TunnelError('ERR_TOKEN_EXPIRED', `the ${typ === 'invite' ? 'invite' : 'token'} has expired`);
    throw invalid(reasonOf(err), err);
  }
  if (payload.typ !== typ) {
    const got = typeof payload.typ === 'string' ? `a "${payload.typ}" token` : 'a token without a type';
    throw invalid(`expected ${typ === 'invite' ? 'an invite' : 'a peer token'}, got ${got}`);
  }
  return payload;
}

function reasonOf(err: unknown): string {
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'the signature does not match this hub\'s key';
  if (err instanceof errors.JOSEAlgNotAllowed) return 'the token is not signed with EdDSA';
  if (err instanceof errors.JWTClaimValidationFailed) return `claim "${err.claim}" is not acceptable (${err.reason})`;
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid) return 'the token is malformed';
  return err instanceof Error ? err.message : String(err);
}

function invalid(reason: string, cause?: unknown): TunnelError {
  return new TunnelError('ERR_TOKEN_INVALID', `token refused: ${reason}`, { cause });
}
