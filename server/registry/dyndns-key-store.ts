import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { AuditLog } from './audit-log.js';
import { requirePeerId } from './peer-id.js';
import type { RegistryContext } from './registry-context.js';

/** Bytes of randomness in a dyndns2 key (printed as 43 base64url characters). */
const KEY_BYTES = 32;

/**
 * The peers' dyndns2 keys (table from ROUTER_ACCESS_MIGRATION). Only a SHA-256 is stored: a key is
 * 256 random bits, so no dictionary or brute force reaches it and a slow hash would add nothing
 * but cost per update request.
 */
export class DyndnsKeyStore {
  constructor(private readonly ctx: RegistryContext, private readonly audit: AuditLog) {}

  /** Makes a new key for `peer`, stores its hash (voiding any older key) and returns the key once. */
  issue(peer: string): Promise<string> {
    return this.ctx.transaction((tx) => tx.dyndnsKeys.replace(peer));
  }

  /** True when `key` is the current dyndns2 key of `peer` (false for unknown peers and peers without one). */
  async verify(peer: string, key: string): Promise<boolean> {
    const row = await this.ctx.sql.get<{ keyHash: string }>('SELECT k.key_hash AS "keyHash" FROM dyndns_keys k JOIN peers p ON p.id = k.peer_id WHERE p.name = ?', peer);
    if (!row) return false;
    return timingSafeEqual(Buffer.from(row.keyHash, 'hex'), Buffer.from(hashOf(key), 'hex'));
  }

  /** Peers that hold a dyndns2 key and are not revoked: routers, whose hub ends a restart restores. */
  async peersWithKeys(): Promise<string[]> {
    const rows = await this.ctx.sql.all<{ name: string }>(
      'SELECT p.name FROM dyndns_keys k JOIN peers p ON p.id = k.peer_id WHERE p.revoked_at IS NULL ORDER BY p.name');
    return rows.map((row) => row.name);
  }

  private async replace(peer: string): Promise<string> {
    const id = await requirePeerId(this.ctx, peer);
    const key = randomBytes(KEY_BYTES).toString('base64url');
    const previous = await this.ctx.sql.get<{ peerId: number }>('SELECT peer_id AS "peerId" FROM dyndns_keys WHERE peer_id = ?', id);
    await this.ctx.sql.run(`INSERT INTO dyndns_keys (peer_id, key_hash, created_at) VALUES (?, ?, ?)
      ON CONFLICT (peer_id) DO UPDATE SET key_hash = excluded.key_hash, created_at = excluded.created_at`,
    id, hashOf(key), this.ctx.clock());
    await this.audit.record('peer.dyndns-key', peer, { replaced: previous !== undefined });
    return key;
  }
}

function hashOf(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}
