import { requirePeerId } from './peer-id.js';
import type { RegistryContext } from './registry-context.js';

/**
 * Which hub of a cluster serves each member's session now (table from CLUSTER_MIGRATION). The last
 * hub to claim a member wins; the others, told by the change notification, take their end down.
 */
export class MemberSessionStore {
  constructor(private readonly ctx: RegistryContext) {}

  /**
   * Records that `hub` serves `peer` now. Returns the hub that served it before when that was
   * another one (a move), else null. Claiming again from the same hub writes nothing.
   */
  async claim(peer: string, hub: string): Promise<string | null> {
    return this.ctx.transaction((tx) => tx.sessions.write(peer, hub), { peer });
  }

  /** The hub serving `peer`, or null when no hub of a cluster ever did. */
  async owner(peer: string): Promise<string | null> {
    const row = await this.ctx.sql.get<{ hub: string }>('SELECT s.hub_name AS hub FROM member_sessions s JOIN peers p ON p.id = s.peer_id WHERE p.name = ?', peer);
    return row?.hub ?? null;
  }

  /** Every served member with its hub. */
  async owners(): Promise<Map<string, string>> {
    const rows = await this.ctx.sql.all<{ peer: string; hub: string }>('SELECT p.name AS peer, s.hub_name AS hub FROM member_sessions s JOIN peers p ON p.id = s.peer_id ORDER BY p.name');
    return new Map(rows.map((row) => [row.peer, row.hub]));
  }

  private async write(peer: string, hub: string): Promise<string | null> {
    // By name (a hub claims on every session start); a peer that is not there inserts nothing and is refused.
    const before = await this.ctx.sql.get<{ hub: string }>('SELECT s.hub_name AS hub FROM member_sessions s JOIN peers p ON p.id = s.peer_id WHERE p.name = ?', peer);
    if (before?.hub === hub) return null;
    const { changes } = await this.ctx.sql.run(`INSERT INTO member_sessions (peer_id, hub_name, claimed_at) SELECT id, ?, ? FROM peers WHERE name = ?
      ON CONFLICT (peer_id) DO UPDATE SET hub_name = excluded.hub_name, claimed_at = excluded.claimed_at`, hub, this.ctx.clock(), peer);
    if (changes === 0) await requirePeerId(this.ctx, peer);
    return before?.hub ?? null;
  }
}
