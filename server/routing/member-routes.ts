import { HUB_END_NAME } from '../registry/peer-name.js';
import { tunnelInterfaceName } from '../../shared/net/tunnel-interface-name.js';

/** Metric of every route through a member's hub tunnel: a direct peer<->peer link's route wins. */
export const HUB_ROUTE_METRIC = 1000;

/** Metric of routes through a direct peer<->peer link. */
export const DIRECT_ROUTE_METRIC = 100;

/** Metric of the hub's routes through its member tunnels (an operator's own static route may win). */
export const HUB_TUNNEL_ROUTE_METRIC = 1000;

/**
 * Metric of the hub's `unreachable` routes for its pools and every routed prefix: the largest
 * there is, so a member tunnel's route wins whenever that member is connected, and traffic for an
 * absent member is answered instead of leaking out of the hub's default route.
 */
export const HUB_UNREACHABLE_METRIC = 0xffff_ffff;

/** What the hub's routing decisions rest on (one snapshot of the registry). */
export interface RoutingFacts {
  /** The hub's address pools, canonical CIDRs. */
  readonly pools: readonly string[];
  /** Approved prefixes behind members, canonical, by member name; revoked members left out. */
  readonly approved: ReadonlyMap<string, readonly string[]>;
}

/** The prefixes one tunnel carries, at one metric. */
export interface TunnelRoutes {
  readonly tunnel: string;
  readonly metric: number;
  readonly prefixes: readonly string[];
}

/**
 * The routes a member installs: through its hub tunnel, the hub's pools and every approved prefix
 * of the other members, never its own (that would send its own LAN back to the hub); through each
 * direct link to another member, that member's approved prefixes, at a metric that beats the hub's.
 * Sorted and without repeats, so an unchanged set gives the same config text.
 */
export function memberRoutes(facts: RoutingFacts, member: string, linkedMembers: readonly string[]): TunnelRoutes[] {
  const own = new Set(facts.approved.get(member) ?? []);
  const viaHub = new Set(facts.pools);
  for (const [other, prefixes] of facts.approved) {
    if (other !== member) for (const prefix of prefixes) viaHub.add(prefix);
  }
  for (const prefix of own) viaHub.delete(prefix);
  const routes: TunnelRoutes[] = [{ tunnel: tunnelInterfaceName(HUB_END_NAME), metric: HUB_ROUTE_METRIC, prefixes: sorted(viaHub) }];
  for (const other of linkedMembers) {
    routes.push({ tunnel: tunnelInterfaceName(other), metric: DIRECT_ROUTE_METRIC, prefixes: sorted(new Set(facts.approved.get(other) ?? [])) });
  }
  return routes;
}

/**
 * What the hub routes through `member`'s tunnel: its approved prefixes and its addresses on
 * peer<->peer links (`linkAddresses`, other members reach those through the hub too). Its hub-link
 * /30 is the tunnel's own connected route.
 */
export function hubTunnelRoutes(facts: RoutingFacts, member: string, linkAddresses: readonly string[]): string[] {
  return sorted(new Set([...(facts.approved.get(member) ?? []), ...linkAddresses.map(hostPrefix)]));
}

/** The hub's `unreachable` fallback: every pool and every approved prefix. */
export function hubUnreachableRoutes(facts: RoutingFacts): string[] {
  return sorted(new Set([...facts.pools, ...[...facts.approved.values()].flat()]));
}

/**
 * The inner sources the hub accepts on `member`'s tunnel (BCP 38): its own addresses on every
 * link and its approved prefixes.
 */
export function memberSources(facts: RoutingFacts, member: string, ownAddresses: readonly string[]): string[] {
  return sorted(new Set([...ownAddresses.map(hostPrefix), ...(facts.approved.get(member) ?? [])]));
}

/** The /32 (IPv4) or /128 (IPv6) of one address. */
export function hostPrefix(address: string): string {
  return address.includes(':') ? `${address}/128` : `${address}/32`;
}

function sorted(prefixes: Set<string>): string[] {
  return [...prefixes].sort();
}
