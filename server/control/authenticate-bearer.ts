import type { IncomingMessage } from 'node:http';
import type { KeyObject } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { TunnelError } from '../../shared/errors.js';
import { CLIENT_TOKEN_TYPE, JOIN_HEADERS } from '../../shared/protocol/index.js';
import { parseSshPublicKey, type SshPublicKey } from '../auth/ssh-public-key.js';
import type { PeerTokenClaims } from '../auth/token-claims.js';
import type { VerifiedTokenCache } from '../auth/verified-token-cache.js';
import { verifyInviteToken, verifyPeerToken } from '../auth/verify-token.js';
import { validatePeerName } from '../registry/peer-name.js';
import type { PeerRecord } from '../registry/peer-store.js';
import type { Registry } from '../registry/registry.js';
import type { AuthenticatedPeer } from './authenticated-peer.js';
import { peerRevocationError } from './peer-revocation-error.js';
import type { TokenReplayCache } from './token-replay-cache.js';
import { verifyClientToken } from './verify-client-token.js';

/** Longest bearer token accepted; real ones are a few hundred bytes. */
const MAX_TOKEN_CHARS = 4096;

/** What bearer authentication needs from the hub. */
export interface BearerAuthOptions {
  registry: Registry;
  /** The hub's token verification key. */
  signingKey: KeyObject;
  /** The audience of client-signed tokens. */
  hubId: string;
  clock: () => number;
  replay: TokenReplayCache;
  /** Peer tokens whose signature was checked already (a reconnect skips that check, not the revocation check). */
  verifiedPeerTokens: VerifiedTokenCache<PeerTokenClaims>;
}

/**
 * Authenticates a WebSocket upgrade from its `Authorization: Bearer` token, which is one of:
 * an invite (first join: creates the peer with its /30 and registers the key from the join
 * headers, spending one use, all in one transaction), a hub-issued peer token (optionally
 * registering the member's key), or a token the member signed with its registered key. Every
 * check comes before any write, and a refusal is a coded TunnelError that changed nothing.
 */
export async function authenticateBearer(request: IncomingMessage, options: BearerAuthOptions): Promise<AuthenticatedPeer> {
  const token = bearerToken(request.headers.authorization);
  const now = options.clock();
  let typ: unknown;
  let claimed: unknown;
  try {
    typ = decodeProtectedHeader(token).typ;
    claimed = decodeJwt(token).typ;
  } catch {
    throw new TunnelError('ERR_TOKEN_INVALID', 'token refused: not a JWT');
  }
  if (typ === CLIENT_TOKEN_TYPE) {
    const name = await verifyClientToken(token, { registry: options.registry, hubId: options.hubId, now, replay: options.replay });
    return { name, method: 'client-key' };
  }
  if (claimed === 'invite') {
    const invite = await verifyInviteToken(token, options.signingKey, { now });
    // Said first, so a re-used invite is reported as such even when its name is taken by now;
    // peers.add checks it again atomically.
    if ((await options.registry.invites.find(invite.jti))?.usesLeft === 0) {
      throw new TunnelError('ERR_TOKEN_USED', 'the invite has already been used; ask for a new one');
    }
    const name = validatePeerName(requiredHeader(request, JOIN_HEADERS.name, 'the name to join as'));
    const sshKey = joinKey(request);
    if (!sshKey) throw new TunnelError('ERR_SSH_KEY_INVALID', `joining with an invite needs the member's ed25519 key in ${JOIN_HEADERS.key}`);
    await options.registry.peers.add({ name, sshKey, inviteJti: invite.jti });
    return { name, method: 'invite' };
  }
  if (claimed === 'peer') {
    // The peer's row is read once, for its token version and then its revocation.
    let record: PeerRecord | undefined;
    const claims = await verifyPeerToken(token, options.signingKey, {
      now,
      currentVersion: async (name) => (record = await options.registry.peers.find(name))?.tokenVersion,
      verified: options.verifiedPeerTokens,
    });
    const revoked = peerRevocationError(record?.name === claims.name ? record : await options.registry.peers.require(claims.name));
    if (revoked) throw revoked;
    const sshKey = joinKey(request);
    if (sshKey) await registerKey(options.registry, claims.name, sshKey);
    return { name: claims.name, method: 'peer-token' };
  }
  throw new TunnelError('ERR_TOKEN_INVALID', 'token refused: neither an invite, a peer token nor a client token');
}

function bearerToken(header: string | undefined): string {
  const match = header === undefined ? null : /^Bearer ([A-Za-z0-9_.-]+)$/.exec(header.trim());
  if (!match?.[1]) throw new TunnelError('ERR_UNAUTHENTICATED', 'send "Authorization: Bearer <token>" (an invite, a peer token or a client token)');
  if (match[1].length > MAX_TOKEN_CHARS) throw new TunnelError('ERR_TOKEN_INVALID', 'token refused: too long');
  return match[1];
}

function requiredHeader(request: IncomingMessage, name: string, what: string): string {
  const value = request.headers[name];
  if (typeof value !== 'string' || value === '') throw new TunnelError('ERR_INVALID_ARGUMENT', `send ${what} in the ${name} header`);
  return value;
}

/** The member's key from the join header: an OpenSSH ed25519 line (it will sign client tokens). */
function joinKey(request: IncomingMessage): SshPublicKey | undefined {
  const value = request.headers[JOIN_HEADERS.key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new TunnelError('ERR_SSH_KEY_INVALID', `send one key in ${JOIN_HEADERS.key}`);
  const key = parseSshPublicKey(value);
  if (key.algorithm !== 'ssh-ed25519') throw new TunnelError('ERR_SSH_KEY_INVALID', `the member key must be ssh-ed25519 (got ${key.algorithm})`);
  return key;
}

/** Registers a member key for a peer token holder; a key already theirs is fine, someone else's is refused. */
async function registerKey(registry: Registry, peer: string, key: SshPublicKey): Promise<void> {
  const owner = await registry.peers.findBySshFingerprint(key.fingerprint);
  if (owner?.name === peer) return;
  await registry.peers.addSshKey(peer, key);
}
