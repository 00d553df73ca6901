import { randomUUID, type KeyObject } from 'node:crypto';
import { TOKEN_ALGORITHM, TOKEN_AUDIENCE, TOKEN_ISSUER } from './token-claims.js';

/** A signed invite and the facts the registry must record for it. */
export interface IssuedInvite {
  readonly token: string;
  readonly jti: string;
  /** ms since the epoch, whole seconds (the token's `exp`). */
  readonly expiresAt: number;
}

/**
 * Signs an invite (`typ: invite`) valid for `ttlMs` from `now`. The caller records the returned
 * jti, expiry and uses in the registry before printing the token.
 */
export async function issueInviteToken(key: KeyObject, options: { now: number; ttlMs: number; pool?: string }): Promise<IssuedInvite> {
  const jti = randomUUID();
  const iat = Math.floor(options.now / 1000);
  // Rounded up: an invite lives at least its ttl (a short one, rounded down, could be over before it is recorded).
  const exp = Math.ceil((options.now + options.ttlMs) / 1000);
  const claims: Record<string, unknown> = { typ: 'invite' };
  if (options.pool !== undefined) claims.pool = options.pool;
  const { SignJWT } = await loadJose();
  const token = await new SignJWT(claims)
    .setProtectedHeader({ alg: TOKEN_ALGORITHM, typ: 'JWT' })
    .setIssuer(TOKEN_ISSUER)
    .setAudience(TOKEN_AUDIENCE)
    .setJti(jti)
    .setIssuedAt(iat)
    .setExpirationTime(exp)
    .sign(key);
  return { token, jti, expiresAt: exp * 1000 };
}

/** Signs a peer token (`typ: peer`, `sub` = name, `ver` = the peer's current token version). */
export async function issuePeerToken(key: KeyObject, options: { name: string; version: number; now: number; ttlMs: number }): Promise<string> {
  const iat = Math.floor(options.now / 1000);
  const { SignJWT } = await loadJose();
  return new SignJWT({ typ: 'peer', ver: options.version })
    .setProtectedHeader({ alg: TOKEN_ALGORITHM, typ: 'JWT' })
    .setIssuer(TOKEN_ISSUER)
    .setAudience(TOKEN_AUDIENCE)
    .setSubject(options.name)
    .setJti(randomUUID())
    .setIssuedAt(iat)
    .setExpirationTime(Math.floor((options.now + options.ttlMs) / 1000))
    .sign(key);
}

/**
 * jose, loaded when a token is signed: admin commands that sign nothing skip its load time. A
 * caller that reads the clock for a short-lived token loads it first, so the load is not counted
 * against the token's life.
 */
export function loadJose(): Promise<typeof import('jose')> {
  return import('jose');
}
