/** `iss` and `aud` of every token the hub signs; a token meant for anything else is refused. */
export const TOKEN_ISSUER = 'tunnel-hub';

/** See {@link TOKEN_ISSUER}. */
export const TOKEN_AUDIENCE = 'tunnel-hub';

/** The only signature algorithm accepted: pinned, never taken from the token header. */
export const TOKEN_ALGORITHM = 'EdDSA';

/** What an invite says once verified: single or few uses, recorded by jti in the registry. */
export interface InviteClaims {
  readonly jti: string;
  /** Expiry, ms since the epoch. */
  readonly expiresAt: number;
  /** The pool the joining peer's /30 comes from, or null for any. */
  readonly pool: string | null;
}

/** What a peer token says once verified. */
export interface PeerTokenClaims {
  readonly name: string;
  readonly version: number;
  /** Expiry, ms since the epoch. */
  readonly expiresAt: number;
}
