import { TunnelError } from '../../shared/errors.js';
import { canonicalOuterAddress, outerFamilyOf } from '../../shared/datapath/outer-address.js';
import { requirePeerId } from './peer-id.js';
import type { RegistryContext } from './registry-context.js';

/** Where a peer's tunnel traffic comes from (or is to be sent to), and since when. */
export interface EndpointRecord {
  readonly address: string;
  /** UDP port for fou/gue paths; null for plain IP protocols. */
  readonly port: number | null;
  /** Who vouched for it, e.g. `observed` (the hub saw it) or `reported` (the peer said so). */
  readonly source: string;
  /** When it was first recorded. */
  readonly firstSeenAt: number;
  /** When it was last confirmed. */
  readonly seenAt: number;
}

/** A new endpoint observation, for {@link EndpointStore.record}. */
export interface EndpointObservation {
  readonly address: string;
  readonly port?: number | null;
  readonly source: string;
}

/** History rows kept per peer; older ones are pruned as new ones arrive. */
const HISTORY_PER_PEER = 100;

const SELECT_ENDPOINT = `SELECT id, address, port, source, first_seen_at AS "firstSeenAt", seen_at AS "seenAt" FROM endpoints`;

/**
 * Peers' public endpoints over time. The latest row is the one link tables print, so record
 * only an address the hub is willing to send to (seen or verified), never a bare claim.
 */
export class EndpointStore {
  constructor(private readonly ctx: RegistryContext) {}

  /**
   * Records that `peer` is at `observation`. The same endpoint as the latest only refreshes
   * its `seenAt`; a new one becomes the latest. Returns the latest record and whether it changed.
   */
  async record(peer: string, observation: EndpointObservation): Promise<{ endpoint: EndpointRecord; changed: boolean }> {
    const port = observation.port ?? null;
    // IPv6 in its canonical spelling only, so one address never reads as two endpoints.
    if (outerFamilyOf(observation.address) === null || canonicalOuterAddress(observation.address) !== observation.address) {
      throw new TunnelError('ERR_INVALID_ADDRESS', `endpoint "${observation.address}" is not an IPv4 address or a canonical IPv6 address`);
    }
    if (port !== null && !(Number.isInteger(port) && port >= 1 && port <= 65535)) {
      throw new TunnelError('ERR_INVALID_ARGUMENT', `endpoint port ${port} is not in 1-65535`);
    }
    if (!/^[a-z][a-z0-9-]{0,31}$/.test(observation.source)) {
      throw new TunnelError('ERR_INVALID_ARGUMENT', `endpoint source "${observation.source}" must be a short lowercase word`);
    }
    return this.ctx.transaction((tx) => tx.endpoints.write(peer, observation.address, port, observation.source), { peer });
  }

  /** The peer's latest endpoint, or null when it has never been seen. */
  async latest(peer: string): Promise<EndpointRecord | null> {
    const row = await this.latestRow(await requirePeerId(this.ctx, peer));
    return row ? strip(row) : null;
  }

  /** The peer's endpoints, newest first. */
  async history(peer: string, options: { limit?: number } = {}): Promise<EndpointRecord[]> {
    const rows = await this.ctx.sql.all<EndpointRow>(`${SELECT_ENDPOINT} WHERE peer_id = ? ORDER BY id DESC LIMIT ?`,
      await requirePeerId(this.ctx, peer), options.limit ?? HISTORY_PER_PEER);
    return rows.map(strip);
  }

  private async write(peer: string, address: string, port: number | null, source: string): Promise<{ endpoint: EndpointRecord; changed: boolean }> {
    const now = this.ctx.clock();
    // By name, with the peer's id: a peer seen again at its address (most session starts) costs
    // this read and one update, a new address (a move) this read, the insert and the prune.
    const latest = await this.ctx.sql.get<{ peerId: number } & Partial<EndpointRow>>(`SELECT p.id AS "peerId", e.id, e.address, e.port, e.source,
      e.first_seen_at AS "firstSeenAt", e.seen_at AS "seenAt" FROM peers p LEFT JOIN endpoints e ON e.peer_id = p.id WHERE p.name = ? ORDER BY e.id DESC LIMIT 1`, peer);
    if (latest === undefined) await requirePeerId(this.ctx, peer);
    const { peerId, ...row } = latest!;
    if (row.id != null && row.address === address && row.port === port && row.source === source) {
      // The row as it now stands, without reading it again.
      await this.ctx.sql.run('UPDATE endpoints SET seen_at = ? WHERE id = ?', now, row.id);
      return { endpoint: strip({ ...(row as EndpointRow), seenAt: now }), changed: false };
    }
    await this.ctx.sql.run('INSERT INTO endpoints (peer_id, address, port, source, first_seen_at, seen_at) VALUES (?, ?, ?, ?, ?, ?)',
      peerId, address, port, source, now, now);
    await this.ctx.sql.run('DELETE FROM endpoints WHERE peer_id = ? AND id <= (SELECT id FROM endpoints WHERE peer_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?)',
      peerId, peerId, HISTORY_PER_PEER);
    // The new latest row is the one just written.
    return { endpoint: { address, port, source, firstSeenAt: now, seenAt: now }, changed: true };
  }

  private latestRow(peerId: number): Promise<EndpointRow | undefined> {
    return this.ctx.sql.get<EndpointRow>(`${SELECT_ENDPOINT} WHERE peer_id = ? ORDER BY id DESC LIMIT 1`, peerId);
  }
}

interface EndpointRow extends EndpointRecord {
  readonly id: number;
}

function strip({ id: _id, ...record }: EndpointRow): EndpointRecord {
  return record;
}
