import { TunnelError } from '../../shared/errors.js';
import type { AuditLog } from './audit-log.js';
import { requirePeerId } from './peer-id.js';
import type { RegistryContext } from './registry-context.js';

/** The AEADs an encrypted link may run (the names of native/esp.ts). */
export type LinkAead = 'aes-gcm' | 'chacha20-poly1305';

/** Which link an epoch belongs to: a member's link (hub<->peer or peer<->peer) or a hub<->hub link. */
export type SaLinkRef = { kind: 'member'; linkId: number } | { kind: 'hub'; hubLinkId: number };

/** One pair of SAs of a link: its epoch (the never-reused row id the keys and SPIs derive from). */
export interface SaEpochRecord {
  readonly epoch: number;
  readonly aead: LinkAead;
  /** Why it was made: `session`, `hub-start`, `interval`, `rekey-due`, `operator`. */
  readonly reason: string;
  readonly createdAt: number;
}

/** Epochs kept per link: the current one and the two before it (a rekey in flight needs one). */
const KEPT_PER_LINK = 3;

const SELECT_EPOCH = 'epoch, aead, reason, created_at AS "createdAt"';

/**
 * The SA epochs of encrypted links (table from LINK_ENCRYPTION_STEP). No key is stored: an epoch
 * names the keys (they derive from the cluster's ESP master key, server/control/link-sa-keys.ts),
 * so every hub of a cluster that reads the same epoch makes the same SAs, and a new epoch is all
 * a rekey writes.
 */
export class LinkSaEpochStore {
  constructor(private readonly ctx: RegistryContext, private readonly audit: AuditLog) {}

  /** The newest epoch of each of the member links `linkIds` that has one (one read). */
  async latest(linkIds: readonly number[]): Promise<Map<number, SaEpochRecord>> {
    const found = new Map<number, SaEpochRecord>();
    if (linkIds.length === 0) return found;
    const rows = await this.ctx.sql.all<SaEpochRecord & { linkId: number }>(`
      SELECT link_id AS "linkId", ${SELECT_EPOCH} FROM link_sa_epochs e
      WHERE link_id IN (${linkIds.map(() => '?').join(', ')})
        AND epoch = (SELECT max(epoch) FROM link_sa_epochs WHERE link_id = e.link_id)`, ...linkIds);
    for (const { linkId, ...record } of rows) found.set(linkId, record);
    return found;
  }

  /** The epochs kept for a link, newest first. */
  history(ref: SaLinkRef): Promise<SaEpochRecord[]> {
    const [column, id] = columnOf(ref);
    return this.ctx.sql.all<SaEpochRecord>(`SELECT ${SELECT_EPOCH} FROM link_sa_epochs WHERE ${column} = ? ORDER BY epoch DESC`, id);
  }

  /**
   * Makes the next epoch of a link (a new pair of SAs) and forgets epochs older than the two
   * before it. One statement each, so no lock is needed: epochs only grow.
   */
  async start(ref: SaLinkRef, aead: LinkAead, reason: string): Promise<SaEpochRecord> {
    const [column, id] = columnOf(ref);
    const record = await this.ctx.sql.get<SaEpochRecord>(`INSERT INTO link_sa_epochs (${column}, aead, reason, created_at) VALUES (?, ?, ?, ?)
      RETURNING ${SELECT_EPOCH}`, id, aead, reason, this.ctx.clock()) as SaEpochRecord;
    await this.ctx.sql.run(`DELETE FROM link_sa_epochs WHERE ${column} = ? AND epoch NOT IN
      (SELECT epoch FROM link_sa_epochs WHERE ${column} = ? ORDER BY epoch DESC LIMIT ${KEPT_PER_LINK})`, id, id);
    return record;
  }

  /**
   * `tunnel-hub peer rekey NAME`: a new epoch for every link of the peer, in one transaction with
   * its audit entry. Returns the link ids and their new epochs, hub link first.
   */
  rekeyPeer(peer: string, aead: LinkAead): Promise<{ linkId: number; epoch: number }[]> {
    return this.ctx.transaction((tx) => tx.saEpochs.rekeyLinksOf(peer, aead));
  }

  private async rekeyLinksOf(peer: string, aead: LinkAead): Promise<{ linkId: number; epoch: number }[]> {
    const id = await requirePeerId(this.ctx, peer);
    const links = await this.ctx.sql.all<{ id: number }>('SELECT id FROM links WHERE end_a = ? OR end_b = ? ORDER BY end_a IS NOT NULL, id', id, id);
    if (links.length === 0) throw new TunnelError('ERR_LINK_NOT_FOUND', `peer "${peer}" has no links`);
    const rekeyed: { linkId: number; epoch: number }[] = [];
    for (const link of links) rekeyed.push({ linkId: link.id, epoch: (await this.start({ kind: 'member', linkId: link.id }, aead, 'operator')).epoch });
    await this.audit.record('peer.rekey', peer, { links: rekeyed.map((entry) => entry.linkId) });
    return rekeyed;
  }
}

function columnOf(ref: SaLinkRef): ['link_id' | 'hub_link_id', number] {
  return ref.kind === 'member' ? ['link_id', ref.linkId] : ['hub_link_id', ref.hubLinkId];
}
