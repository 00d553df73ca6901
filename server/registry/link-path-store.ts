import type { Encapsulation } from '../../shared/net/encapsulation.js';
import type { EspPath } from '../../shared/protocol/tunnel-spec-schema.js';
import type { RegistryContext } from './registry-context.js';

/** The path the hub chose for one link, and why (a reason code such as `nat-detected`). */
export interface LinkPathRecord {
  readonly linkId: number;
  readonly encap: Encapsulation;
  readonly reason: string;
  /** How an encrypted link carries its ESP, or null for a link in the clear. */
  readonly esp: EspPath | null;
  readonly decidedAt: number;
}

/** The hub's automatic encapsulation choice per link (table from LINK_PATH_MIGRATION). */
export class LinkPathStore {
  constructor(private readonly ctx: RegistryContext) {}

  /** Records the choice for `linkId`; returns true when encapsulation, reason or ESP path changed. */
  async record(linkId: number, encap: Encapsulation, reason: string, esp: EspPath | null = null): Promise<boolean> {
    // One statement: the same choice as before is left alone (its decided_at too), and says so by changing nothing.
    const { changes } = await this.ctx.sql.run(`INSERT INTO link_paths (link_id, encap, reason, esp, decided_at) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (link_id) DO UPDATE SET encap = excluded.encap, reason = excluded.reason, esp = excluded.esp, decided_at = excluded.decided_at
      WHERE link_paths.encap <> excluded.encap OR link_paths.reason <> excluded.reason
        OR coalesce(link_paths.esp, '') <> coalesce(excluded.esp, '')`,
    linkId, encap, reason, esp, this.ctx.clock());
    return changes > 0;
  }

  /** The choice for `linkId`, or undefined before the hub made one. */
  find(linkId: number): Promise<LinkPathRecord | undefined> {
    return this.ctx.sql.get<LinkPathRecord>('SELECT link_id AS "linkId", encap, reason, esp, decided_at AS "decidedAt" FROM link_paths WHERE link_id = ?', linkId);
  }
}
