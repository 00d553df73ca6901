import { isIPv6 } from 'node:net';
import { HUB_END_NAME } from '../registry/peer-name.js';
import type { LinkTable } from '../registry/link-table.js';
import { deriveTapMac } from '../../shared/net/tap-mac-address.js';
import { tunnelInterfaceName } from '../../shared/net/tunnel-interface-name.js';
import type { WireLinkTable, WireTunnelEsp, WireTunnelSpec } from '../../shared/protocol/index.js';

/** The outer IPv6 header is 40 bytes, IPv4's 20: a link over IPv6 carries 20 fewer inner bytes. */
const IPV6_EXTRA_OVERHEAD = 20;

/** Where each end of a hub<->peer link is, as far as the hub can vouch. */
export interface HubLinkEndpoints {
  /** The hub's public address of the link's family (its registry endpoint, or its IPv6 endpoint). */
  hub: string;
  /** The hub's id: a gretap link's MAC addresses derive from it and the peer's name. */
  hubId?: string;
  /** The address the peer's authenticated control connection comes from: verified. */
  seen: string;
  /** The address the peer says it has; only ever used as the peer's own `local`. */
  reported: string | null;
  /** Seconds between path keepalives on both ends (they also keep a NAT's mapping alive). */
  keepaliveInterval?: number;
  /**
   * The authenticated UDP binding of a fou/gue link: the hub end binds the member's NAT mapping
   * only after a hello with an HMAC under `key` (the session key, base64url); the member says hello
   * every `keepaliveInterval`. Ignored on GRE/IPIP links.
   */
  binding?: { bindingId: number; key: string };
  /**
   * An encrypted link's SAs for each end (the table says raw ESP or ESP in UDP). ESP in UDP takes
   * the binding and hellos FOU takes: the hub learns the member's NAT mapping from them.
   */
  esp?: { hubEnd: WireTunnelEsp; peerEnd: WireTunnelEsp };
}

/** Both ends' specs of one hub<->peer link, plus the table the peer is shown. */
export interface HubLinkSpecs {
  hubEnd: WireTunnelSpec;
  peerEnd: WireTunnelSpec;
  table: WireLinkTable;
}

/**
 * Builds both ends of a hub<->peer link from its registry table. The hub's end aims only at the
 * seen address, never at a reported one, so no peer can point the hub's packets at a third party.
 * The peer's `local` is what it reports (behind a NAT that is its private address), else the seen
 * one. The link runs over the seen address's family: over IPv6 its MTU is 20 bytes smaller than
 * the table's IPv4 figure. A gretap link's TAPs get MAC addresses derived from the hub id and the
 * peer's name, so they stay the same across restarts of either end.
 */
export function buildHubLinkSpecs(peer: string, table: LinkTable, endpoints: HubLinkEndpoints): HubLinkSpecs {
  const [hubEnd, peerEnd] = table.ends;
  const prefixLength = table.prefix.split('/')[1] ?? '30';
  const ipv6 = isIPv6(endpoints.seen);
  const mtu = ipv6 ? table.mtu - IPV6_EXTRA_OVERHEAD : table.mtu;
  // A reported address of the other family (said before the member moved to this path) is no local address here.
  const reported = endpoints.reported !== null && isIPv6(endpoints.reported) === ipv6 ? endpoints.reported : null;
  const tap = table.encap === 'gretap';
  const common = {
    encap: table.encap,
    ...(table.key !== null ? { key: table.key } : {}),
    mtu,
    ...(endpoints.keepaliveInterval !== undefined ? { keepaliveInterval: endpoints.keepaliveInterval } : {}),
  };
  const esp = table.esp !== undefined ? endpoints.esp : undefined;
  const udp = table.encap === 'fou' || table.encap === 'gue' || (esp !== undefined && table.esp === 'udp');
  const binding = udp ? endpoints.binding : undefined;
  const helloInterval = endpoints.keepaliveInterval !== undefined ? { helloInterval: endpoints.keepaliveInterval } : {};
  return {
    hubEnd: {
      name: tunnelInterfaceName(peer),
      ...common,
      ...(binding ? { auth: { ...binding, role: 'hub' as const }, ...helloInterval } : {}),
      local: endpoints.hub,
      remote: endpoints.seen,
      address: `${hubEnd.inner}/${prefixLength}`,
      peerAddress: peerEnd.inner,
      ...(tap ? { mac: deriveTapMac(`${endpoints.hubId ?? ''} ${peer} hub end`) } : {}),
      ...(esp ? { esp: esp.hubEnd } : {}),
    },
    peerEnd: {
      name: tunnelInterfaceName(HUB_END_NAME),
      ...common,
      ...(binding ? { auth: { ...binding, role: 'member' as const }, ...helloInterval } : {}),
      local: reported ?? endpoints.seen,
      remote: endpoints.hub,
      address: `${peerEnd.inner}/${prefixLength}`,
      peerAddress: hubEnd.inner,
      ...(tap ? { mac: deriveTapMac(`${endpoints.hubId ?? ''} ${peer} member end`) } : {}),
      ...(esp ? { esp: esp.peerEnd } : {}),
    },
    table: {
      ...table,
      mtu,
      ends: [{ ...hubEnd, public: endpoints.hub }, { ...peerEnd, public: endpoints.seen }],
    },
  };
}
