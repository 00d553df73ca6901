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
  /** Why it was refused (ERR_ROUTE_OVERLAP, ERR_INVALID_CIDR, ERR_ROUTE_LIMIT). */
  readonly code?: string;
  readonly message?: string;
}

const SELECT_ROUTES = `
  SELECT p.name AS peer, r.prefix, r.state, r.requested_at AS requestedAt, r.approved_at AS approvedAt, r.created_at AS createdAt
  FROM peer_routes r JOIN peers p ON p.id = r.peer_id`;

/**
 * Prefixes behind members (a node's LAN) and the per-member source check: what the hub routes
 * and which inner sources it accepts (server/routing). Every change runs in one IMMEDIATE
 * transaction, re-checking overlap against what is approved at that moment.
 */
export class PeerRoutingStore {
  constructor(private readonly ctx: RegistryContext, private readonly audit: AuditLog) {}

  /**
   * The operator routes `prefix` behind `peer` (approved at once; a pending request for it is
   * approved). Refused, changing nothing: malformed or non-unicast (ERR_INVALID_CIDR), overlapping a
   * pool or another member's prefix (ERR_ROUTE_OVERLAP), already routed (ERR_ROUTE_EXISTS), or the
   * hub's limit reached (ERR_ROUTE_LIMIT).
   */
  add(peer: string, prefix: string): PeerRouteRecord {
    return this.ctx.rdb.immediate(() => {
      const peerId = requirePeerId(this.ctx, peer);
      const canonical = checkRoutePrefix(prefix, peer, this.claims());
      const row = this.find(peerId, canonical);
      if (row?.state === 'approved') throw new TunnelError('ERR_ROUTE_EXISTS', `${canonical} is already routed behind ${peer}`);
      this.requireRoom();
      const now = this.ctx.clock();
      if (row) this.ctx.rdb.statement('UPDATE peer_routes SET state = \'approved\', approved_at = ? WHERE peer_id = ? AND prefix = ?').run(now, peerId, canonical);
      else this.ctx.rdb.statement('INSERT INTO peer_routes (peer_id, prefix, state, approved_at, created_at) VALUES (?, ?, \'approved\', ?, ?)').run(peerId, canonical, now, now);
      this.audit.record('route.add', peer, { prefix: canonical, requested: row !== undefined });
      return this.require(peerId, canonical);
    });
  }

  /**
   * Approves a member's pending request. Refused, changing nothing: no such request
   * (ERR_ROUTE_NOT_FOUND), already approved (ERR_ROUTE_EXISTS), now overlapping a pool or another
   * member's prefix (ERR_ROUTE_OVERLAP), or the hub's limit reached (ERR_ROUTE_LIMIT).
   */
  approve(peer: string, prefix: string): PeerRouteRecord {
    const canonical = canonicalPrefix(prefix);
    return this.ctx.rdb.immediate(() => {
      const peerId = requirePeerId(this.ctx, peer);
      const row = this.find(peerId, canonical);
      if (!row) throw new TunnelError('ERR_ROUTE_NOT_FOUND', `${peer} has not asked for ${canonical}; see \`tunnel-hub peer route list\``);
      if (row.state === 'approved') throw new TunnelError('ERR_ROUTE_EXISTS', `${canonical} is already routed behind ${peer}`);
      checkRoutePrefix(canonical, peer, this.claims());
      this.requireRoom();
      this.ctx.rdb.statement('UPDATE peer_routes SET state = \'approved\', approved_at = ? WHERE peer_id = ? AND prefix = ?').run(this.ctx.clock(), peerId, canonical);
      this.audit.record('route.approve', peer, { prefix: canonical });
      return this.require(peerId, canonical);
    });
  }

  /** Stops routing `prefix` behind `peer`, or drops the request for it (ERR_ROUTE_NOT_FOUND if neither). */
  remove(peer: string, prefix: string): PeerRouteRecord {
    const canonical = canonicalPrefix(prefix);
    return this.ctx.rdb.immediate(() => {
      const peerId = requirePeerId(this.ctx, peer);
      const row = this.find(peerId, canonical);
      if (!row) throw new TunnelError('ERR_ROUTE_NOT_FOUND', `no prefix ${canonical} behind ${peer}; see \`tunnel-hub peer route list\``);
      this.ctx.rdb.statement('DELETE FROM peer_routes WHERE peer_id = ? AND prefix = ?').run(peerId, canonical);
      this.audit.record('route.remove', peer, { prefix: canonical, state: row.state });
      return row;
    });
  }

  /** Every prefix behind every member, by member then prefix. */
  list(): PeerRouteRecord[] {
    return this.ctx.rdb.statement(`${SELECT_ROUTES} ORDER BY p.name, r.prefix`).all() as PeerRouteRecord[];
  }

  /** The prefixes behind one member. */
  listForPeer(peer: string): PeerRouteRecord[] {
    return this.ctx.rdb.statement(`${SELECT_ROUTES} WHERE r.peer_id = ? ORDER BY r.prefix`).all(requirePeerId(this.ctx, peer)) as PeerRouteRecord[];
  }

  /**
   * A member's `--advertise` list, as it said hello: new prefixes become pending requests, pending
   * ones it no longer asks for are withdrawn, approved ones stay (the operator's to remove). A
   * prefix that overlaps a pool or another member's is refused and nothing is stored for it.
   */
  recordRequests(peer: string, prefixes: readonly string[]): RouteRequestOutcome[] {
    return this.ctx.rdb.immediate(() => {
      const peerId = requirePeerId(this.ctx, peer);
      const existing = new Map(this.listForPeer(peer).map((row) => [row.prefix, row]));
      const asked = new Set(prefixes);
      const outcomes: RouteRequestOutcome[] = [];
      const claims = this.claims();
      const now = this.ctx.clock();
      for (const prefix of asked) {
        const row = existing.get(prefix);
        if (row) {
          outcomes.push({ prefix, state: row.state });
          continue;
        }
        try {
          const canonical = checkRoutePrefix(prefix, peer, claims);
          this.ctx.rdb.statement('INSERT INTO peer_routes (peer_id, prefix, state, requested_at, created_at) VALUES (?, ?, \'pending\', ?, ?)').run(peerId, canonical, now, now);
          this.audit.record('route.request', peer, { prefix: canonical });
          outcomes.push({ prefix, state: 'pending' });
        } catch (err) {
          if (!(err instanceof TunnelError)) throw err;
          outcomes.push({ prefix, state: 'refused', code: err.code, message: err.message });
        }
      }
      for (const row of existing.values()) {
        if (row.state !== 'pending' || asked.has(row.prefix)) continue;
        this.ctx.rdb.statement('DELETE FROM peer_routes WHERE peer_id = ? AND prefix = ?').run(peerId, row.prefix);
        this.audit.record('route.withdraw', peer, { prefix: row.prefix });
      }
      return outcomes;
    });
  }

  /** Pools and approved prefixes of members not revoked: what every route set is computed from. */
  facts(): RoutingFacts {
    const pools = (this.ctx.rdb.statement('SELECT cidr FROM pools ORDER BY id').all() as { cidr: string }[]).map((row) => row.cidr);
    const rows = this.ctx.rdb.statement(`${SELECT_ROUTES} WHERE r.state = 'approved' AND p.revoked_at IS NULL ORDER BY p.name, r.prefix`)
      .all() as PeerRouteRecord[];
    const approved = new Map<string, string[]>();
    for (const row of rows) approved.set(row.peer, [...(approved.get(row.peer) ?? []), row.prefix]);
    return { pools, approved };
  }

  /** One member's source check and prefixes, pending and approved. */
  memberRecord(peer: string): MemberRoutingRecord {
    const peerId = requirePeerId(this.ctx, peer);
    const { sourceCheck } = this.ctx.rdb.statement('SELECT source_check AS sourceCheck FROM peers WHERE id = ?').get(peerId) as { sourceCheck: number };
    const prefixes = this.ctx.rdb.statement('SELECT prefix, state FROM peer_routes WHERE peer_id = ? ORDER BY prefix')
      .all(peerId) as { prefix: string; state: 'pending' | 'approved' }[];
    return { sourceCheck: sourceCheck === 1, prefixes };
  }

  /**
   * Turns the check of a member's inner sources on or off (`peer set NAME --source-check`): off is
   * for members that carry transit traffic under a routing daemon. Returns whether it changed.
   */
  setSourceCheck(peer: string, on: boolean): boolean {
    return this.ctx.rdb.immediate(() => {
      const peerId = requirePeerId(this.ctx, peer);
      const { changes } = this.ctx.rdb.statement('UPDATE peers SET source_check = ? WHERE id = ? AND source_check <> ?').run(on ? 1 : 0, peerId, on ? 1 : 0);
      if (changes > 0) this.audit.record('peer.source-check', peer, { on });
      return changes > 0;
    });
  }

  /** Everything a new prefix must not overlap: the pools and every approved prefix, revoked members' included. */
  private claims(): RouteClaims {
    const pools = (this.ctx.rdb.statement('SELECT cidr FROM pools ORDER BY id').all() as { cidr: string }[]).map((row) => row.cidr);
    const approved = this.ctx.rdb.statement(`${SELECT_ROUTES} WHERE r.state = 'approved'`).all() as PeerRouteRecord[];
    return { pools, approved };
  }

  private requireRoom(): void {
    const { n } = this.ctx.rdb.statement('SELECT count(*) AS n FROM peer_routes WHERE state = \'approved\'').get() as { n: number };
    if (n >= MAX_APPROVED_ROUTES) {
      throw new TunnelError('ERR_ROUTE_LIMIT', `this hub already routes ${n} prefixes behind members, its limit (every member's config carries them all); remove some first`);
    }
  }

  private find(peerId: number, prefix: string): PeerRouteRecord | undefined {
    return this.ctx.rdb.statement(`${SELECT_ROUTES} WHERE r.peer_id = ? AND r.prefix = ?`).get(peerId, prefix) as PeerRouteRecord | undefined;
  }

  private require(peerId: number, prefix: string): PeerRouteRecord {
    return this.find(peerId, prefix)!;
  }
}
