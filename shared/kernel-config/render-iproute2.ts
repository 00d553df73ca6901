import { TunnelError } from '../errors.js';
import { isIpv6Path, perspectiveOf, requireRemote, udpPortOf, type LinkTable } from './link-table.js';

/** Options for the Linux rendering. */
export interface Iproute2Options {
  /** Interface name on this end (≤ 15 characters). */
  ifname: string;
  /** Outer TTL. Fixed, never `inherit`: inherited TTL 1 is what killed OSPF hellos over tunnels. */
  ttl?: number;
  /** UDP ports used when a link has none of its own. */
  udpPorts?: { fou: number; gue: number };
}

/** Default UDP ports: 4754 is RFC 8086's GRE-in-UDP port; 6080 is the conventional GUE port. */
export const DEFAULT_UDP_PORTS = { fou: 4754, gue: 6080 } as const;

/**
 * iproute2 commands that build this end of a link in the Linux kernel, for members who run
 * kernel GRE/IPIP/FOU/GUE/gretap instead of the userspace datapath. One command per line, no
 * shell. Over an IPv6 path the devices are ip6gre, ip6tnl (`mode any`, IPv4 and IPv6 inside) and
 * ip6gretap, with `encaplimit none`: the datapath adds no encapsulation-limit option, and the MTU
 * in the table counts none.
 */
export function renderIproute2(table: LinkTable, myName: string, options: Iproute2Options): string[] {
  const view = perspectiveOf(table, myName);
  const remote = requireRemote(view);
  const dev = options.ifname;
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(dev)) {
    throw new TunnelError('ERR_INVALID_ARGUMENT', `interface name "${dev}" must be 1-15 letters, digits, '_', '.' or '-'`);
  }
  const ttl = options.ttl ?? 64;
  const v6 = isIpv6Path(remote);
  const local = view.mine.public ?? 'any';
  // The UDP encapsulations carry GRE (fou, as RFC 8086) or IPIP inside GUE, as the datapath does.
  const ip = table.encap === 'ipip' || table.encap === 'gue';
  const gre = table.encap === 'gretap' ? 'gretap' : 'gre';
  const kind = ip ? (v6 ? 'ip6tnl mode any' : 'ipip') : v6 ? `ip6${gre}` : gre;
  const key = !ip && table.key != null ? ` key ${table.key}` : '';
  const limit = v6 ? ' encaplimit none' : '';
  const lines: string[] = [];
  let encap = '';
  if (table.encap === 'fou' || table.encap === 'gue') {
    const port = udpPortOf(table, options.udpPorts ?? DEFAULT_UDP_PORTS);
    const family = v6 ? ' -6' : '';
    lines.push(table.encap === 'fou' ? `ip fou add port ${port} ipproto 47${family}` : `ip fou add port ${port} gue${family}`);
    encap = ` encap ${table.encap} encap-sport ${port} encap-dport ${port}`;
  }
  lines.push(
    `ip link add ${dev} type ${kind} local ${local} remote ${remote} ttl ${ttl}${key}${limit}${encap}`,
    `ip link set ${dev} mtu ${table.mtu}`,
    `ip addr add ${view.mine.inner}/${view.prefixLength} dev ${dev}`,
    `ip link set ${dev} up`,
  );
  return lines;
}
