import type { AuditLog } from './audit-log.js';
import { requirePeerId } from './peer-id.js';
import type { RegistryContext } from './registry-context.js';

/** The operator's word on one peer's encryption: `on`, `off`, or null to follow the hub's default. */
export type EncryptSetting = 'on' | 'off' | null;

/**
 * `tunnel-hub peer set NAME --encrypt on|off|default` (table from LINK_ENCRYPTION_STEP): one row
 * per peer the operator decided for. A member without a row follows `serve --encrypt`; a router
 * (no tunnel-client) encrypts only with a row saying `on`, since it must be given its SAs by hand.
 */
export class PeerEncryptionStore {
  constructor(private readonly ctx: RegistryContext, private readonly audit: AuditLog) {}

  /** The peer's setting (null: none, the default applies). */
  async of(peer: string): Promise<EncryptSetting> {
    const id = await requirePeerId(this.ctx, peer);
    const row = await this.ctx.sql.get<{ encrypt: 'on' | 'off' }>('SELECT encrypt FROM peer_encryption WHERE peer_id = ?', id);
    return row?.encrypt ?? null;
  }

  /** Sets (null: clears) the peer's setting; returns true when it changed. */
  set(peer: string, setting: EncryptSetting): Promise<boolean> {
    return this.ctx.transaction((tx) => tx.encryption.write(peer, setting));
  }

  private async write(peer: string, setting: EncryptSetting): Promise<boolean> {
    const before = await this.of(peer);
    if (before === setting) return false;
    const id = await requirePeerId(this.ctx, peer);
    await this.ctx.sql.run('DELETE FROM peer_encryption WHERE peer_id = ?', id);
    if (setting !== null) await this.ctx.sql.run('INSERT INTO peer_encryption (peer_id, encrypt) VALUES (?, ?)', id, setting);
    await this.audit.record('peer.encrypt', peer, { encrypt: setting, previous: before });
    return true;
  }
}
