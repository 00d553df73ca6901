import { TunnelError } from '../../shared/errors.js';
import { issueInviteToken, loadJose } from '../auth/issue-token.js';
import type { InviteRecord } from '../registry/invite-store.js';
import type { HubState } from './hub-state.js';

/**
 * Signs an invite and records its jti, expiry and uses; the token is returned only once the
 * registry holds it, so an invite that was printed can always be redeemed.
 */
export async function createInvite(state: HubState, options: { ttlMs: number; uses: number; pool?: string }): Promise<{ token: string; invite: InviteRecord }> {
  if (!(options.ttlMs >= 1000)) throw new TunnelError('ERR_INVALID_ARGUMENT', 'an invite must be valid for at least one second');
  const pool = options.pool === undefined ? undefined : (await state.registry.pools.require(options.pool)).cidr;
  // The signer's first load can outlast a one-second invite on a loaded machine: the clock is read after it.
  await loadJose();
  const issued = await issueInviteToken(state.signingKey.privateKey, {
    now: state.clock(),
    ttlMs: options.ttlMs,
    ...(pool === undefined ? {} : { pool }),
  });
  const invite = await state.registry.invites.create({
    jti: issued.jti,
    expiresAt: issued.expiresAt,
    uses: options.uses,
    ...(pool === undefined ? {} : { pool }),
  });
  return { token: issued.token, invite };
}
