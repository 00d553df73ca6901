import { TunnelError } from '../../shared/errors.js';
import { formatIpPrefix, ipPrefixContains, ipPrefixesOverlap, parseIpPrefix, type IpPrefix } from '../../shared/net/ip-prefix.js';

/** What a new prefix behind a member must not collide with. */
export interface RouteClaims {
  /** The hub's address pools (every link /30 comes from them). */
  readonly pools: readonly string[];
  /** Prefixes already approved, with the member each lies behind. */
  readonly approved: readonly { readonly peer: string; readonly prefix: string }[];
}

/** Ranges no member can route: they never leave a host or a link, or are not unicast. */
const RESERVED: readonly { prefix: IpPrefix; what: string }[] = [
  ['0.0.0.0/8', 'this-network'], ['127.0.0.0/8', 'loopback'], ['169.254.0.0/16', 'link-local'],
  ['224.0.0.0/4', 'multicast'], ['240.0.0.0/4', 'reserved'],
  ['::/128', 'the unspecified address'], ['::1/128', 'loopback'], ['fe80::/10', 'link-local'], ['ff00::/8', 'multicast'],
].map(([prefix, what]) => ({ prefix: parseIpPrefix(prefix!), what: what! }));

/**
 * Checks a prefix `owner` wants routed behind it: the canonical prefix, or the coded refusal.
 * Malformed or non-unicast → ERR_INVALID_CIDR; overlapping a pool or another member's approved
 * prefix → ERR_ROUTE_OVERLAP (two owners of one address would split the mesh's routing, and a
 * pool's addresses belong to the links). The owner's own prefixes may nest.
 */
export function checkRoutePrefix(text: string, owner: string, claims: RouteClaims): string {
  const candidate = parseIpPrefix(text);
  const canonical = formatIpPrefix(candidate);
  const reserved = RESERVED.find((range) => ipPrefixContains(range.prefix, candidate));
  if (reserved) throw new TunnelError('ERR_INVALID_CIDR', `${canonical} is ${reserved.what} address space, which no member can route`);
  for (const pool of claims.pools) {
    if (ipPrefixesOverlap(parseIpPrefix(pool), candidate)) {
      throw new TunnelError('ERR_ROUTE_OVERLAP', `${canonical} overlaps the hub's pool ${pool}, whose addresses belong to the links`);
    }
  }
  for (const route of claims.approved) {
    if (route.peer !== owner && ipPrefixesOverlap(parseIpPrefix(route.prefix), candidate)) {
      throw new TunnelError('ERR_ROUTE_OVERLAP', `${canonical} overlaps ${route.prefix}, routed behind ${route.peer}`);
    }
  }
  return canonical;
}
