import type { WireTunnelSpec } from '../../shared/protocol/index.js';
import { HUB_TUNNEL_ROUTE_METRIC, hostPrefix, hubTunnelRoutes, memberRoutes, memberSources, type RoutingFacts } from './member-routes.js';

/** `serve --routing`: the hub routes between its members (static), or leaves routing to a daemon (none). */
export type RoutingMode = 'static' | 'none';

/** The routing modes `serve --routing` takes. */
export const ROUTING_MODES: readonly RoutingMode[] = ['static', 'none'];

/** A member's own prefixes and checks, as the registry keeps them. */
export interface MemberRoutingRecord {
  /** Whether the hub drops inner packets from sources outside the member's (default on). */
  readonly sourceCheck: boolean;
  readonly prefixes: readonly { readonly prefix: string; readonly state: 'pending' | 'approved' }[];
}

/** One of the member's peer<->peer links, as its config has it. */
export interface MemberLinkEnd {
  /** The member's interface toward the other end. */
  readonly tunnel: string;
  readonly other: string;
  /** The member's address on the link's /30. */
  readonly address: string;
  /** False when no tunnel could be issued for it (both ends behind NATs, an end never seen), or its routes wait (an unverified shortcut). */
  readonly issued: boolean;
  /**
   * A shortcut's other end's address on its hub link: routed through the shortcut too, so a flow
   * the two started through the hub crosses the shortcut both ways.
   */
  readonly otherHubAddress?: string;
}

type RouteFields = Pick<WireTunnelSpec, 'routes' | 'routeMetric'>;

/** The routing parts of one member's specs. */
export interface MemberRouteSpecs {
  /** For the hub's end of its hub link: the source filter, and with static routing what it routes there. */
  readonly hubEnd: RouteFields & Pick<WireTunnelSpec, 'sources'>;
  /** Per member interface, what it routes (static routing only). */
  readonly tunnels: ReadonlyMap<string, RouteFields>;
}

/**
 * What routing adds to one member's specs. The hub's end filters sources (unless the operator
 * turned the check off for a transit member) whatever the mode; with static routing the hub also
 * routes the member's prefixes and link addresses through it, and the member's tunnels get their
 * routes (memberRoutes). With `none` no route is pushed anywhere: a routing daemon decides.
 */
export function memberRouteSpecs(mode: RoutingMode, facts: RoutingFacts, member: string, record: MemberRoutingRecord,
  hubLinkAddress: string, links: readonly MemberLinkEnd[]): MemberRouteSpecs {
  const ownAddresses = [hubLinkAddress, ...links.map((link) => link.address)];
  const sources = record.sourceCheck ? { sources: memberSources(facts, member, ownAddresses) } : {};
  if (mode === 'none') return { hubEnd: sources, tunnels: new Map() };
  const issued = links.filter((link) => link.issued);
  const tunnels = new Map<string, RouteFields>(memberRoutes(facts, member, issued.map((link) => link.other))
    .map((routes) => [routes.tunnel, { routes: [...routes.prefixes], routeMetric: routes.metric }]));
  for (const link of issued) {
    const fields = tunnels.get(link.tunnel);
    if (fields && link.otherHubAddress !== undefined) fields.routes = [...new Set([...fields.routes ?? [], hostPrefix(link.otherHubAddress)])].sort();
  }
  return {
    hubEnd: { ...sources, routes: hubTunnelRoutes(facts, member, links.map((link) => link.address)), routeMetric: HUB_TUNNEL_ROUTE_METRIC },
    tunnels,
  };
}
