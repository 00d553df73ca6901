import { HUB_LINK_PREFIX, tunnelInterfaceName } from '../../shared/net/tunnel-interface-name.js';
import type { WireTunnelEsp, WireTunnelSpec } from '../../shared/protocol/index.js';
import { FOU_GRE_PORT } from '../../shared/wire/fou.js';
import { tunnelMtu } from '../../shared/wire/tunnel-overhead.js';
import type { HubLinkRecord } from '../registry/hub-link-store.js';
import { linkEncapFields } from '../registry/link-table.js';
import { HUB_TUNNEL_ROUTE_METRIC } from '../routing/member-routes.js';
import type { RoutingMode } from '../routing/member-route-specs.js';

/** The path MTU assumed between hubs: Ethernet. */
const PATH_MTU = 1500;

/** What one hub knows of its cluster when it lays out its hub<->hub tunnels. */
export interface HubToHubFacts {
  readonly self: { readonly name: string; readonly endpoint: string };
  /** Every other hub of the cluster with its public address. */
  readonly others: readonly { readonly name: string; readonly endpoint: string }[];
  readonly links: readonly HubLinkRecord[];
  /** The hub serving each member now. */
  readonly owners: ReadonlyMap<string, string>;
  /** Per member, what is reached through whichever hub serves it: its /30, its approved prefixes, its peer-link addresses. */
  readonly memberPrefixes: ReadonlyMap<string, readonly string[]>;
  /** This hub's SAs towards each other hub whose link is encrypted (both hubs encrypt), by the other hub's name. */
  readonly esp?: ReadonlyMap<string, WireTunnelEsp>;
}

/**
 * This hub's end of a tunnel to each other hub of the cluster, on the pair's /30 with the pair's
 * key, in the encapsulation the registry gives the pair: GRE, or FOU (GRE in UDP, port 4754 at
 * both ends: both hubs are public, so no binding to a NAT mapping and no hello authentication;
 * the datapath tells the link from members by its source address and port). With static routing each tunnel carries what the other hub's members own, so a
 * member here reaches a member there, and routes follow the members when they move; with
 * `--routing none` no route is installed and a routing daemon (OSPF) runs over the tunnels.
 * A hub without a link yet (none allocated) gets no tunnel. An encrypted link (its SAs in `esp`)
 * carries its GRE in raw ESP, or in ESP in UDP (port 4500 at both ends) where it would run FOU.
 * Sorted, so equal facts give equal specs.
 */
export function hubToHubSpecs(mode: RoutingMode, facts: HubToHubFacts, keepaliveInterval: number): WireTunnelSpec[] {
  const specs: WireTunnelSpec[] = [];
  for (const other of [...facts.others].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const link = facts.links.find((l) => l.hubs.includes(facts.self.name) && l.hubs.includes(other.name));
    if (!link || other.name === facts.self.name) continue;
    const mine = link.hubs[0] === facts.self.name ? 0 : 1;
    const prefixLength = link.prefix.split('/')[1] ?? '30';
    const esp = facts.esp?.get(other.name);
    const clear = {
      encap: link.encap,
      ...(link.encap === 'fou' ? { localPort: FOU_GRE_PORT, remotePort: FOU_GRE_PORT } : {}),
      mtu: tunnelMtu(PATH_MTU, { encap: link.encap, inner: 'gre', key: true }),
    };
    const encrypted = esp && { encap: 'gre' as const, mtu: linkEncapFields('gre', link.greKey, false, esp.udp ? 'udp' : 'raw').mtu, esp };
    const spec: WireTunnelSpec = {
      name: tunnelInterfaceName(other.name, HUB_LINK_PREFIX),
      key: link.greKey,
      ...(encrypted ?? clear),
      keepaliveInterval,
      local: facts.self.endpoint,
      remote: other.endpoint,
      address: `${link.inner[mine]}/${prefixLength}`,
      peerAddress: link.inner[1 - mine] as string,
    };
    if (mode === 'static') {
      const routes = new Set<string>();
      for (const [member, hub] of facts.owners) {
        if (hub === other.name) for (const prefix of facts.memberPrefixes.get(member) ?? []) routes.add(prefix);
      }
      specs.push({ ...spec, routes: [...routes].sort(), routeMetric: HUB_TUNNEL_ROUTE_METRIC });
    } else {
      specs.push(spec);
    }
  }
  return specs;
}
