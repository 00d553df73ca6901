import { TunnelError } from '../../shared/errors.js';
import type { PeerRecord } from '../registry/peer-store.js';

/**
 * The ERR_TOKEN_REVOKED refusal of a peer `tunnel-hub peer revoke` cut off, or undefined: whatever
 * credential it proves (its own key, a client token, a hub-issued token) is refused until
 * `peer restore`.
 */
export function peerRevocationError(peer: Pick<PeerRecord, 'name' | 'revokedAt'>): TunnelError | undefined {
  if (peer.revokedAt === null) return undefined;
  return new TunnelError('ERR_TOKEN_REVOKED',
    `peer "${peer.name}" has been revoked; ask the hub operator to run \`tunnel-hub peer restore ${peer.name}\``);
}
