import { TunnelError } from '../../shared/errors.js';
import type { EndpointObservation } from './endpoint-store.js';
import { requirePeerId } from './peer-id.js';
import type { RegistryContext } from './registry-context.js';

/** Versions after issuing: each grows only when its spec text changed. */
export interface IssuedSpecVersions {
  hubVersion: number;
  hubChanged: boolean;
  peerVersion: number;
  peerChanged: boolean;
}

/** Issued and confirmed versions of both ends of a peer's hub link. */
export interface HubLinkSpecVersions {
  hub: { issued: number; applied: number; appliedAt: number | null };
  peer: { issued: number; acked: number; ackedAt: number | null; reported: string | null };
}

/** A peer's config as issued and as acknowledged (SpecVersionStore.configAcks). */
export interface PeerConfigAck {
  peer: string;
  version: number;
  acked: number;
  reported: string | null;
}

interface HubEndRow { version: number; spec: string }

/**
 * Versioned specs of both ends of hub<->peer links (tables from SPEC_VERSION_MIGRATION): what was
 * last issued to each end, and which version each end has confirmed.
 */
export class SpecVersionStore {
  constructor(private readonly ctx: RegistryContext) {}

  /**
   * Stores the specs issued for `peer`'s hub link `linkId` in one transaction. A spec
   * identical to the last issued keeps its version (a reconnect from the same address changes
   * nothing); a different one gets the next version. `seen`: an endpoint recorded in the same
   * transaction (EndpointStore.record), so a session start commits once.
   */
  issue(peer: string, linkId: number, hubSpec: unknown, peerConfig: unknown, reported: string | null, seen?: EndpointObservation): Promise<IssuedSpecVersions> {
    return this.ctx.transaction(async (tx) => {
      if (seen !== undefined) await tx.endpoints.record(peer, seen);
      return tx.specs.store(peer, linkId, JSON.stringify(hubSpec), JSON.stringify(peerConfig), reported);
    }, { peer });
  }

  /** Records that the hub's datapath runs `version` of its end of link `linkId`. */
  async recordHubApplied(linkId: number, version: number): Promise<void> {
    await this.ctx.sql.run('UPDATE hub_end_specs SET applied_version = ?, applied_at = ? WHERE link_id = ? AND applied_version < ?',
      version, this.ctx.clock(), linkId, version);
  }

  /**
   * Records the peer's acknowledgement of config `version`; an ack of a version never issued is
   * refused. One conditional statement: versions only grow, so it needs no read first (nor the
   * write lock), and only an ack that changed nothing is looked at again to say why.
   */
  async recordPeerAck(peer: string, version: number): Promise<void> {
    const { changes } = await this.ctx.sql.run(`UPDATE peer_configs SET acked_version = ?, acked_at = ?
      WHERE peer_id = (SELECT id FROM peers WHERE name = ?) AND acked_version < ? AND version >= ?`, version, this.ctx.clock(), peer, version, version);
    if (changes > 0) return;
    const peerId = await requirePeerId(this.ctx, peer);
    const row = await this.ctx.sql.get<{ version: number }>('SELECT version FROM peer_configs WHERE peer_id = ?', peerId);
    if (!row || version > row.version) {
      throw new TunnelError('ERR_PROTOCOL', `peer "${peer}" acknowledged config version ${version}, which was never issued`);
    }
  }

  /** Every peer's last issued config version, the version it acknowledged and the address it reported, in one read. */
  async configAcks(): Promise<PeerConfigAck[]> {
    return this.ctx.sql.all<PeerConfigAck>(`SELECT p.name AS peer, c.version, c.acked_version AS acked, c.reported
      FROM peer_configs c JOIN peers p ON p.id = c.peer_id`);
  }

  /** Both ends' versions for `peer`'s hub link `linkId`, or undefined before anything was issued. */
  async versions(peer: string, linkId: number): Promise<HubLinkSpecVersions | undefined> {
    const hub = await this.ctx.sql.get<{ version: number; applied: number; appliedAt: number | null }>(
      'SELECT version, applied_version AS applied, applied_at AS "appliedAt" FROM hub_end_specs WHERE link_id = ?', linkId);
    const peerRow = await this.ctx.sql.get<{ version: number; acked: number; ackedAt: number | null; reported: string | null }>(`SELECT c.version, c.acked_version AS acked, c.acked_at AS "ackedAt", c.reported
      FROM peer_configs c JOIN peers p ON p.id = c.peer_id WHERE p.name = ?`, peer);
    if (!hub || !peerRow) return undefined;
    return {
      hub: { issued: hub.version, applied: hub.applied, appliedAt: hub.appliedAt },
      peer: { issued: peerRow.version, acked: peerRow.acked, ackedAt: peerRow.ackedAt, reported: peerRow.reported },
    };
  }

  private async store(peer: string, linkId: number, hubText: string, peerText: string, reported: string | null): Promise<IssuedSpecVersions> {
    const { sql } = this.ctx;
    // The peer's id and its last config in one read (a hub issues on every session start).
    const current = await sql.get<{ peerId: number; version: number | null; config: string | null }>(
      'SELECT p.id AS "peerId", c.version, c.config FROM peers p LEFT JOIN peer_configs c ON c.peer_id = p.id WHERE p.name = ?', peer);
    const peerId = current?.peerId ?? await requirePeerId(this.ctx, peer);
    const now = this.ctx.clock();
    const hub = await sql.get<HubEndRow>('SELECT version, spec FROM hub_end_specs WHERE link_id = ?', linkId);
    const hubChanged = hub?.spec !== hubText;
    const hubVersion = hubChanged ? (hub?.version ?? 0) + 1 : (hub?.version ?? 1);
    if (hubChanged) {
      await sql.run(`INSERT INTO hub_end_specs (link_id, version, spec, issued_at) VALUES (?, ?, ?, ?)
        ON CONFLICT (link_id) DO UPDATE SET version = excluded.version, spec = excluded.spec, issued_at = excluded.issued_at`,
      linkId, hubVersion, hubText, now);
    }
    const peerChanged = current?.config !== peerText;
    const peerVersion = peerChanged ? (current?.version ?? 0) + 1 : (current?.version ?? 1);
    if (peerChanged) {
      await sql.run(`INSERT INTO peer_configs (peer_id, version, config, reported, issued_at) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (peer_id) DO UPDATE SET version = excluded.version, config = excluded.config, reported = excluded.reported, issued_at = excluded.issued_at`,
      peerId, peerVersion, peerText, reported, now);
    }
    return { hubVersion, hubChanged, peerVersion, peerChanged };
  }
}
