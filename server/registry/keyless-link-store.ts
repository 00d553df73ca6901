import { TunnelError } from '../../shared/errors.js';
import type { AuditLog } from './audit-log.js';
import { requirePeerId } from './peer-id.js';
import type { RegistryContext } from './registry-context.js';

/**
 * Whether a peer's hub link runs GRE without a key (column from ROUTER_ACCESS_MIGRATION), for
 * routers whose GRE cannot set one. The hub demultiplexes keyless GRE by the outer source address.
 */
export class KeylessLinkStore {
  constructor(private readonly ctx: RegistryContext, private readonly audit: AuditLog) {}

  /** Sets the flag on the peer's hub link; returns true when it changed. */
  setHubLinkKeyless(peer: string, keyless: boolean): Promise<boolean> {
    return this.ctx.transaction((tx) => tx.keyless.write(peer, keyless));
  }

  /** True when the peer's hub link runs GRE without a key. */
  async isHubLinkKeyless(peer: string): Promise<boolean> {
    const row = await this.ctx.sql.get<{ keyless: number }>('SELECT keyless FROM links WHERE end_a IS NULL AND end_b = ?', await requirePeerId(this.ctx, peer));
    return row?.keyless === 1;
  }

  /** Peers other than `peer` with a keyless hub link whose last verified address is `address`. */
  async keylessPeersAt(address: string, peer: string): Promise<string[]> {
    const rows = await this.ctx.sql.all<{ name: string }>(`
      SELECT p.name FROM links l JOIN peers p ON p.id = l.end_b
      WHERE l.end_a IS NULL AND l.keyless = 1 AND p.name <> ?
        AND (SELECT e.address FROM endpoints e WHERE e.peer_id = p.id ORDER BY e.id DESC LIMIT 1) = ?
      ORDER BY p.name`, peer, address);
    return rows.map((row) => row.name);
  }

  private async write(peer: string, keyless: boolean): Promise<boolean> {
    const id = await requirePeerId(this.ctx, peer);
    const row = await this.ctx.sql.get<{ id: number; keyless: number }>('SELECT id, keyless FROM links WHERE end_a IS NULL AND end_b = ?', id);
    if (!row) throw new TunnelError('ERR_LINK_NOT_FOUND', `peer "${peer}" has no hub link`);
    if ((row.keyless === 1) === keyless) return false;
    await this.ctx.sql.run('UPDATE links SET keyless = ? WHERE id = ?', keyless ? 1 : 0, row.id);
    await this.audit.record('peer.gre-key', peer, { keyless });
    return true;
  }
}
