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
  setHubLinkKeyless(peer: string, keyless: boolean): boolean {
    return this.ctx.rdb.immediate(() => {
      const id = requirePeerId(this.ctx, peer);
      const row = this.ctx.rdb.statement('SELECT id, keyless FROM links WHERE end_a IS NULL AND end_b = ?').get(id) as
        { id: number; keyless: number } | undefined;
      if (!row) throw new TunnelError('ERR_LINK_NOT_FOUND', `peer "${peer}" has no hub link`);
      if ((row.keyless === 1) === keyless) return false;
      this.ctx.rdb.statement('UPDATE links SET keyless = ? WHERE id = ?').run(keyless ? 1 : 0, row.id);
      this.audit.record('peer.gre-key', peer, { keyless });
      return true;
    });
  }

  /** True when the peer's hub link runs GRE without a key. */
  isHubLinkKeyless(peer: string): boolean {
    const row = this.ctx.rdb.statement('SELECT keyless FROM links WHERE end_a IS NULL AND end_b = ?')
      .get(requirePeerId(this.ctx, peer)) as { keyless: number } | undefined;
    return row?.keyless === 1;
  }
}
