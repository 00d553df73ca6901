import { issuePeerToken } from '../auth/issue-token.js';
import type { HubState } from './hub-state.js';

/** Signs a token for an existing peer at its current version; audited, the token itself never stored. */
export async function issuePeerCredential(state: HubState, options: { name: string; ttlMs: number }): Promise<string> {
  const peer = await state.registry.peers.require(options.name);
  const token = await issuePeerToken(state.signingKey.privateKey, {
    name: peer.name,
    version: peer.tokenVersion,
    now: state.clock(),
    ttlMs: options.ttlMs,
  });
  await state.registry.audit.record('peer.token.issue', peer.name, { version: peer.tokenVersion, ttlMs: options.ttlMs });
  return token;
}
