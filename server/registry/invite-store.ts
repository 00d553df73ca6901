import { TunnelError } from '../../shared/errors.js';
import type { AuditLog } from './audit-log.js';
import type { PoolStore } from './pool-store.js';
import type { RegistryContext } from './registry-context.js';

/** An invite as the registry tracks it (the signed token itself is never stored). */
export interface InviteRecord {
  readonly jti: string;
  /** The pool a peer joining with it takes its /30 from, or null for any pool. */
  readonly pool: string | null;
  readonly usesLeft: number;
  readonly expiresAt: number;
  readonly createdAt: number;
}

/** Options for {@link InviteStore.create}. */
export interface NewInvite {
  readonly jti: string;
  readonly expiresAt: number;
  readonly uses: number;
  readonly pool?: string;
}

const SELECT_INVITE = `
  SELECT i.jti, p.cidr AS pool, i.uses_left AS "usesLeft", i.expires_at AS "expiresAt", i.created_at AS "createdAt"
  FROM invites i LEFT JOIN pools p ON p.id = i.pool_id`;

/** Invite bookkeeping: the jti, its expiry and uses left. Redemption is atomic. */
export class InviteStore {
  constructor(private readonly ctx: RegistryContext, private readonly pools: PoolStore, private readonly audit: AuditLog) {}

  /** Records a new invite; call before handing out the signed token. */
  async create(invite: NewInvite): Promise<InviteRecord> {
    if (!Number.isInteger(invite.uses) || invite.uses < 1) {
      throw new TunnelError('ERR_INVALID_ARGUMENT', `an invite needs at least one use (got ${invite.uses})`);
    }
    if (invite.expiresAt <= this.ctx.clock()) throw new TunnelError('ERR_INVALID_ARGUMENT', 'an invite must expire in the future');
    return this.ctx.transaction((tx) => tx.invites.insert(invite));
  }

  /** The invite with this jti, or undefined. */
  find(jti: string): Promise<InviteRecord | undefined> {
    return this.ctx.sql.get<InviteRecord>(`${SELECT_INVITE} WHERE i.jti = ?`, jti);
  }

  /**
   * Spends one use of an invite in one transaction (a savepoint inside a caller's), so
   * two joins racing for the last use cannot both win. Unknown → ERR_TOKEN_INVALID, past its
   * expiry → ERR_TOKEN_EXPIRED, no uses left → ERR_TOKEN_USED. Returns the invite after the use.
   */
  redeem(jti: string): Promise<InviteRecord> {
    return this.ctx.transaction((tx) => tx.invites.spend(jti));
  }

  /** Internal id of the pool an invite names, for allocating inside the same transaction. */
  async poolIdOf(jti: string): Promise<number | undefined> {
    const row = await this.ctx.sql.get<{ poolId: number | null }>('SELECT pool_id AS "poolId" FROM invites WHERE jti = ?', jti);
    return row?.poolId ?? undefined;
  }

  private async insert(invite: NewInvite): Promise<InviteRecord> {
    const poolId = invite.pool === undefined ? null : (await this.pools.require(invite.pool)).id;
    await this.ctx.sql.run('INSERT INTO invites (jti, pool_id, uses_left, expires_at, created_at) VALUES (?, ?, ?, ?, ?)',
      invite.jti, poolId, invite.uses, invite.expiresAt, this.ctx.clock());
    const record = await this.require(invite.jti);
    await this.audit.record('invite.create', invite.jti, { uses: record.usesLeft, expiresAt: record.expiresAt, pool: record.pool });
    return record;
  }

  private async spend(jti: string): Promise<InviteRecord> {
    const invite = await this.find(jti);
    if (!invite) throw new TunnelError('ERR_TOKEN_INVALID', 'the invite is not known to this hub');
    if (invite.expiresAt <= this.ctx.clock()) throw new TunnelError('ERR_TOKEN_EXPIRED', 'the invite has expired; ask for a new one');
    if (invite.usesLeft <= 0) throw new TunnelError('ERR_TOKEN_USED', 'the invite has already been used; ask for a new one');
    await this.ctx.sql.run('UPDATE invites SET uses_left = uses_left - 1 WHERE jti = ?', jti);
    await this.audit.record('invite.redeem', jti, { usesLeft: invite.usesLeft - 1 });
    return { ...invite, usesLeft: invite.usesLeft - 1 };
  }

  private async require(jti: string): Promise<InviteRecord> {
    const invite = await this.find(jti);
    if (!invite) throw new TunnelError('ERR_TOKEN_INVALID', 'the invite is not known to this hub');
    return invite;
  }
}
