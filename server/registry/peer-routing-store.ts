import { TunnelError } from '../../shared/errors.js';
import { canonicalPrefix } from '../../shared/net/ip-prefix.js';
import type { MemberRoutingRecord } from '../routing/member-route-specs.js';
import type { RoutingFacts } from '../routing/member-routes.js';
import { checkRoutePrefix, type RouteClaims } from '../routing/route-conflict.js';
import type { AuditLog } from './audit-log.js';
import { requirePeerId } from './peer-id.js';
import type { RegistryContext } from './registry-context.js';

/** Most prefixes approved behind members on one hub: every member's config carries them all. */
export const MAX_APPROVED_ROUTES = 1000;

/** A prefix behind a member. */
export interface PeerRouteRecord {
  readonly peer: string;
  readonly prefix: string;
  /** `pending` until the operator approves a member's request; an operator's own `add` is approved at once. */
  readonly state: 'pending' | 'approved';
  /** When the member asked for it (`--advertise`), or null when the operator added it. */
  readonly requestedAt: number | null;
  readonly approvedAt: number | null;
  readonly createdAt: number;
}

/** What became of one prefix a member advertised. */
export interface RouteRequestOutcome {
  readonly prefix: string;
  readonly state: 'pending' | 'approved' | 'refused';
  /** Why it was refused (ERR_ROUTE_OVERLAP, ERR_INVALID_CIDR). */
  readonly code?: string;
  readonly message?: string;
}

const SELECT_ROUTES = `
  SELECT p.name AS peer, r.prefix, r.state, r.requested_at AS "requestedAt", r.approved_at AS "approvedAt", r.created_at AS "createdAt"
  FROM peer_routes r JOIN peers p ON p.id = r.peer_id`;

const APPROVE = 'UPDATE peer_routes SET state = \'approved\', approved_at = ? WHERE peer_id = ? AND prefix = ?';

/** By member, then prefix: the same order on every backend (whatever its text collation). */
function byPeerAndPrefix(a: PeerRouteRecord, b: PeerRouteRecord): number {
  return a.peer === b.peer ? compare(a.prefix, b.prefix) : compare(a.peer, b.peer);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Prefixes behind members (a node's LAN) and the per-member source check: what the hub routes
 * and which inner sources it accepts (server/routing). Every change runs in one transaction,
 * re-checking overlap against what is approved at that moment.
 */
export class PeerRoutingStore {
  constructor(private readonly ctx: RegistryContext, private readonly audit: AuditLog) {}

  /**
   * The operator routes `prefix` behind `peer` (approved at once; a pending request for it is
   * approved). Refused, changing nothing: malformed or non-unicast (ERR_INVALID_CIDR), overlapping a
   * pool or another member's prefix (ERR_ROUTE_OVERLAP), already routed (ERR_ROUTE_EXISTS), or the
   * hub's limit reached (ERR_ROUTE_LIMIT).
   */
  add(peer: string, prefix: string): Promise<PeerRouteRecord> {
    return this.ctx.transaction((tx) => tx.routing.insertApproved(peer, prefix));
  }

  /**
   * Approves a member's pending request. Refused, changing nothing: no such request
   * (ERR_ROUTE_NOT_FOUND), already approved (ERR_ROUTE_EXISTS), now overlapping a pool or another
   * member's prefix (ERR_ROUTE_OVERLAP), or the hub's limit reached (ERR_ROUTE_LIMIT).
   */
  approve(peer: string, prefix: string): Promise<PeerRouteRecord> {
    const canonical = canonicalPrefix(prefix);
    return this.ctx.transaction((tx) => tx.routing.approveRequest(peer, canonical));
  }

  /** Stops routing `prefix` behind `peer`, or drops the request for it (ERR_ROUTE_NOT_FOUND if neither). */
  remove(peer: string, prefix: string): Promise<PeerRouteRecord> {
    const canonical = canonicalPrefix(prefix);
    return this.ctx.transaction((tx) => tx.routing.delete(peer, canonical));
  }

  /** Every prefix behind every member, by member then prefix. */
  async list(): Promise<PeerRouteRecord[]> {
    return (await this.ctx.sql.all<PeerRouteRecord>(SELECT_ROUTES)).sort(byPeerAndPrefix);
  }

  /** The prefixes behind one member. */
  async listForPeer(peer: string): Promise<PeerRouteRecord[]> {
    const rows = await this.ctx.sql.all<PeerRouteRecord>(`${SELECT_ROUTES} WHERE r.peer_id = ?`, await requirePeerId(this.ctx, peer));
    return rows.sort(byPeerAndPrefix);
  }

  /**
   * A member's `--advertise` list, as it said hello: new prefixes become pending requests, pending
   * ones it no longer asks for are withdrawn, approved ones stay (the operator's to remove). A
   * prefix that overlaps a pool or another member's is refused and nothing is stored for it.
   */
  recordRequests(peer: string, prefixes: readonly string[]): Promise<RouteRequestOutcome[]> {
    return this.ctx.transaction((tx) => tx.routing.writeRequests(peer, prefixes));
  }

  /** Pools and approved prefixes of members not revoked: what every route set is computed from. */
  async facts(): Promise<RoutingFacts> {
    const rows = await this.ctx.sql.all<PeerRouteRecord>(`${SELECT_ROUTES} WHERE r.state = 'approved' AND p.revoked_at IS NULL`);
    const approved = new Map<string, string[]>();
    for (const row of rows.sort(byPeerAndPrefix)) approved.set(row.peer, [...(approved.get(row.peer) ?? []), row.prefix]);
    return { pools: await this.pools(), approved };
  }

  /** One member's source check and prefixes, pending and approved. */
  async memberRecord(peer: string): Promise<MemberRoutingRecord> {
    // One read (a hub asks on every session start): the peer's row, joined with each of its prefixes.
    const rows = await this.ctx.sql.all<{ sourceCheck: number; prefix: string | null; state: 'pending' | 'approved' | null }>(
      'SELECT p.source_check AS "sourceCheck", r.prefix, r.state FROM peers p LEFT JOIN peer_routes r ON r.peer_id = p.id WHERE p.name = ?', peer);
    if (rows.length === 0) await requirePeerId(this.ctx, peer);
    const prefixes = rows.flatMap((row) => (row.prefix !== null && row.state !== null ? [{ prefix: row.prefix, state: row.state }] : []));
    return { sourceCheck: rows[0]?.sourceCheck === 1, prefixes: prefixes.sort((a, b) => compare(a.prefix, b.prefix)) };
  }

  /**
   * Turns the check of a member's inner sources on or off (`peer set NAME --source-check`): off is
   * for members that carry transit traffic under a routing daemon. Returns whether it changed.
   */
  setSourceCheck(peer: string, on: boolean): Promise<boolean> {
    return this.ctx.transaction((tx) => tx.routing.writeSourceCheck(peer, on));
  }

  private async insertApproved(peer: string, prefix: string): Promise<PeerRouteRecord> {
    const peerId = await requirePeerId(this.ctx, peer);
    const canonical = checkRoutePrefix(prefix, peer, await this.claims());
    const row = await this.find(peerId, canonical);
    if (row?.state === 'approved') throw new TunnelError('ERR_ROUTE_EXISTS', `${canonical} is already routed behind ${peer}`);
    await this.requireRoom();
    const now = this.ctx.clock();
    if (row) await this.ctx.sql.run(APPROVE, now, peerId, canonical);
    else await this.ctx.sql.run('INSERT INTO peer_routes (peer_id, prefix, state, approved_at, created_at) VALUES (?, ?, \'approved\', ?, ?)', peerId, canonical, now, now);
    await this.audit.record('route.add', peer, { prefix: canonical, requested: row !== undefined });
    return (await this.find(peerId, canonical))!;
  }

  private async approveRequest(peer: string, prefix: string): Promise<PeerRouteRecord> {
    const peerId = await requirePeerId(this.ctx, peer);
    const row = await this.find(peerId, prefix);
    if (!row) throw new TunnelError('ERR_ROUTE_NOT_FOUND', `${peer} has not asked for ${prefix}; see \`tunnel-hub peer route list\``);
    if (row.state === 'approved') throw new TunnelError('ERR_ROUTE_EXISTS', `${prefix} is already routed behind ${peer}`);
    checkRoutePrefix(prefix, peer, await this.claims());
    await this.requireRoom();
    await this.ctx.sql.run(APPROVE, this.ctx.clock(), peerId, prefix);
    await this.audit.record('route.approve', peer, { prefix });
    return (await this.find(peerId, prefix))!;
  }

  private async delete(peer: string, prefix: string): Promise<PeerRouteRecord> {
    const peerId = await requirePeerId(this.ctx, peer);
    const row = await this.find(peerId, prefix);
    if (!row) throw new TunnelError('ERR_ROUTE_NOT_FOUND', `no prefix ${prefix} behind ${peer}; see \`tunnel-hub peer route list\``);
    await this.ctx.sql.run('DELETE FROM peer_routes WHERE peer_id = ? AND prefix = ?', peerId, prefix);
    await this.audit.record('route.remove', peer, { prefix, state: row.state });
    return row;
  }

  private async writeRequests(peer: string, prefixes: readonly string[]): Promise<RouteRequestOutcome[]> {
    const peerId = await requirePeerId(this.ctx, peer);
    const existing = new Map((await this.listForPeer(peer)).map((row) => [row.prefix, row]));
    const asked = new Set(prefixes);
    const outcomes: RouteRequestOutcome[] = [];
    const claims = await this.claims();
    const now = this.ctx.clock();
    for (const prefix of asked) {
      const row = existing.get(prefix);
      if (row) {
        outcomes.push({ prefix, state: row.state });
        continue;
      }
      let canonical: string;
      try {
        canonical = checkRoutePrefix(prefix, peer, claims);
      } catch (err) {
        if (!(err instanceof TunnelError)) throw err;
        outcomes.push({ prefix, state: 'refused', code: err.code, message: err.message });
        continue;
      }
      await this.ctx.sql.run('INSERT INTO peer_routes (peer_id, prefix, state, requested_at, created_at) VALUES (?, ?, \'pending\', ?, ?)', peerId, canonical, now, now);
      await this.audit.record('route.request', peer, { prefix: canonical });
      outcomes.push({ prefix, state: 'pending' });
    }
    for (const row of existing.values()) {
      if (row.state !== 'pending' || asked.has(row.prefix)) continue;
      await this.ctx.sql.run('DELETE FROM peer_routes WHERE peer_id = ? AND prefix = ?', peerId, row.prefix);
      await this.audit.record('route.withdraw', peer, { prefix: row.prefix });
    }
    return outcomes;
  }

  private async writeSourceCheck(peer: string, on: boolean): Promise<boolean> {
    const peerId = await requirePeerId(this.ctx, peer);
    const { changes } = await this.ctx.sql.run('UPDATE peers SET source_check = ? WHERE id = ? AND source_check <> ?', on ? 1 : 0, peerId, on ? 1 : 0);
    if (changes > 0) await this.audit.record('peer.source-check', peer, { on });
    return changes > 0;
  }

  private async pools(): Promise<string[]> {
    return (await this.ctx.sql.all<{ cidr: string }>('SELECT cidr FROM pools ORDER BY id')).map((row) => row.cidr);
  }

  /** Everything a new prefix must not overlap: the pools and every approved prefix, revoked members' included. */
  private async claims(): Promise<RouteClaims> {
    return { pools: await this.pools(), approved: await this.ctx.sql.all<PeerRouteRecord>(`${SELECT_ROUTES} WHERE r.state = 'approved'`) };
  }

  private async requireRoom(): Promise<void> {
    const row = await this.ctx.sql.get<{ n: number }>('SELECT CAST(count(*) AS INTEGER) AS n FROM peer_routes WHERE state = \'approved\'');
    const n = Number(row?.n ?? 0);
    if (n >= MAX_APPROVED_ROUTES) {
      throw new TunnelError('ERR_ROUTE_LIMIT', `this hub already routes ${n} prefixes behind members, its limit (every member's config carries them all); remove some first`);
    }
  }

  private find(peerId: number, prefix: string): Promise<PeerRouteRecord | undefined> {
    return this.ctx.sql.get<PeerRouteRecord>(`${SELECT_ROUTES} WHERE r.peer_id = ? AND r.prefix = ?`, peerId, prefix);
  }
}
