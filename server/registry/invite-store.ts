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
  SELECT i.jti, p.cidr AS pool, i.uses_left AS usesLeft, i.expires_at AS expiresAt, i.created_at AS createdAt
  FROM invites i LEFT JOIN pools p ON p.id = i.pool_id`;

/** Invite bookkeeping: the jti, its expiry and uses left. Redemption is atomic. */
export class InviteStore {
  constructor(private readonly ctx: RegistryContext, private readonly pools: PoolStore, private readonly audit: AuditLog) {}

  /** Records a new invite; call before handing out the signed token. */
  create(invite: NewInvite): InviteRecord {
    if (!Number.isInteger(invite.uses) || invite.uses < 1) {
      throw new TunnelError('ERR_INVALID_ARGUMENT', `an invite needs at least one use (got ${invite.uses})`);
    }
    if (invite.expiresAt <= this.ctx.clock()) throw new TunnelError('ERR_INVALID_ARGUMENT', 'an invite must expire in the future');
    return this.ctx.rdb.immediate(() => {
      const poolId = invite.pool === undefined ? null : this.pools.require(invite.pool).id;
      this.ctx.rdb
        .statement('INSERT INTO invites (jti, pool_id, uses_left, expires_at, created_at) VALUES (?, ?, ?, ?, ?)')
        .run(invite.jti, poolId, invite.uses, invite.expiresAt, this.ctx.clock());
      const record = this.require(invite.jti);
      this.audit.record('invite.create', invite.jti, { uses: record.usesLeft, expiresAt: record.expiresAt, pool: record.pool });
      return record;
    });
  }

  /** The invite with this jti, or undefined. */
  find(jti: string): InviteRecord | undefined {
    return this.ctx.rdb.statement(`${SELECT_INVITE} WHERE i.jti = ?`).get(jti) as InviteRecord | undefined;
  }

  /**
   * Spends one use of an invite in one IMMEDIATE transaction (a savepoint inside a caller's), so
   * two joins racing for the last use cannot both win. Unknown → ERR_TOKEN_INVALID, past its
   * expiry → ERR_TOKEN_EXPIRED, no uses left → ERR_TOKEN_USED. Returns the invite after the use.
   */
  redeem(jti: string): InviteRecord {
    return this.ctx.rdb.immediate(() => {
      const invite = this.find(jti);
      if (!invite) throw new TunnelError('ERR_TOKEN_INVALID', 'the invite is not known to this hub');
      if (invite.expiresAt <= this.ctx.clock()) throw new TunnelError('ERR_TOKEN_EXPIRED', 'the invite has expired; ask for a new one');
      if (invite.usesLeft <= 0) throw new TunnelError('ERR_TOKEN_USED', 'the invite has already been used; ask for a new one');
      this.ctx.rdb.statement('UPDATE invites SET uses_left = uses_left - 1 WHERE jti = ?').run(jti);
      this.audit.record('invite.redeem', jti, { usesLeft: invite.usesLeft - 1 });
      return { ...invite, usesLeft: invite.usesLeft - 1 };
    });
  }

  /** Internal id of the pool an invite names, for allocating inside the same transaction. */
  poolIdOf(jti: string): number | undefined {
    const row = this.ctx.rdb.statement('SELECT pool_id AS poolId FROM invites WHERE jti = ?').get(jti) as { poolId: number | null } | undefined;
    return row?.poolId ?? undefined;
  }

  private require(jti: string): InviteRecord {
    const invite = this.find(jti);
    if (!invite) throw new TunnelError('ERR_TOKEN_INVALID', 'the invite is not known to this hub');
    return invite;
  }
}
