import { createPublicKey } from 'node:crypto';
import { decodeProtectedHeader, errors, jwtVerify } from 'jose';
import ssh2 from 'ssh2';
import { TunnelError } from '../../shared/errors.js';
import { CLIENT_TOKEN_MAX_AGE_S, CLIENT_TOKEN_TYPE } from '../../shared/protocol/index.js';
import type { Registry } from '../registry/registry.js';
import { peerRevocationError } from './peer-revocation-error.js';
import type { TokenReplayCache } from './token-replay-cache.js';

/** Clock skew tolerated between a member and the hub, in seconds. */
const CLOCK_TOLERANCE_S = 60;

/**
 * Verifies a token a member signed with its own key: the key (named by `kid`) must be registered
 * to the peer named in `sub`/`iss`, be Ed25519, and the signature, audience (this hub), lifetime
 * (at most 5 minutes) and single use (jti) must all hold, and the peer must not be revoked.
 * Returns the peer name.
 */
export async function verifyClientToken(token: string, options: { registry: Registry; hubId: string; now: number; replay: TokenReplayCache }): Promise<string> {
  const { kid } = decodeProtectedHeader(token);
  if (typeof kid !== 'string' || !kid.startsWith('SHA256:')) throw new TunnelError('ERR_TOKEN_INVALID', 'token refused: no key fingerprint (kid)');
  const owner = await options.registry.peers.findBySshFingerprint(kid);
  if (!owner) throw new TunnelError('ERR_SSH_KEY_UNKNOWN', `key ${kid} is not registered with this hub`);
  const record = (await options.registry.peers.show(owner.name)).sshKeys.find((key) => key.fingerprint === kid);
  if (!record || record.algorithm !== 'ssh-ed25519') {
    throw new TunnelError('ERR_TOKEN_INVALID', 'token refused: only ed25519 keys may sign tokens; connect over SSH with this key');
  }
  const parsed = ssh2.utils.parseKey(record.publicKey);
  if (parsed instanceof Error || Array.isArray(parsed)) throw new TunnelError('ERR_SSH_KEY_INVALID', `registered key ${kid} cannot be read`);
  let payload;
  try {
    ({ payload } = await jwtVerify(token, createPublicKey(parsed.getPublicPEM()), {
      algorithms: ['EdDSA'],
      typ: CLIENT_TOKEN_TYPE,
      audience: options.hubId,
      issuer: owner.name,
      subject: owner.name,
      requiredClaims: ['exp', 'iat', 'jti'],
      maxTokenAge: CLIENT_TOKEN_MAX_AGE_S + CLOCK_TOLERANCE_S,
      clockTolerance: CLOCK_TOLERANCE_S,
      currentDate: new Date(options.now),
    }));
  } catch (err) {
    if (err instanceof errors.JWTExpired) throw new TunnelError('ERR_TOKEN_EXPIRED', 'the client token has expired; check the member\'s clock');
    if (err instanceof errors.JWSSignatureVerificationFailed) throw new TunnelError('ERR_TOKEN_INVALID', `token refused: signature does not match key ${kid}`);
    if (err instanceof errors.JWTClaimValidationFailed) throw new TunnelError('ERR_TOKEN_INVALID', `token refused: claim "${err.claim}" is not acceptable (${err.reason})`);
    throw new TunnelError('ERR_TOKEN_INVALID', 'token refused: malformed client token');
  }
  const exp = payload.exp as number;
  const iat = payload.iat as number;
  if (exp - iat > CLIENT_TOKEN_MAX_AGE_S) {
    throw new TunnelError('ERR_TOKEN_INVALID', `token refused: lifetime ${exp - iat} s exceeds ${CLIENT_TOKEN_MAX_AGE_S} s`);
  }
  const revoked = peerRevocationError(owner);
  if (revoked) throw revoked;
  if (!options.replay.use(payload.jti as string, exp * 1000 + CLOCK_TOLERANCE_S * 1000, options.now)) {
    throw new TunnelError('ERR_TOKEN_USED', 'token refused: this client token was already used');
  }
  return owner.name;
}
