import { TunnelError } from '../errors.js';
import { netmaskOf, perspectiveOf, requireRemote, udpPortOf, type LinkTable } from './link-table.js';
import { refuseEncap, refuseKey } from './target-refusal.js';
import { DEFAULT_UDP_PORTS } from './render-iproute2.js';

/** Which BSD: they differ in how a GRE key and GRE-in-UDP are set. */
export type BsdFlavor = 'freebsd' | 'netbsd' | 'openbsd';

/** Options for the BSD rendering. */
export interface IfconfigOptions {
  flavor: BsdFlavor;
  /** Interface name; gre0 / gif0 style names are what these systems clone. */
  ifname?: string;
}

/**
 * ifconfig commands for this end of a link on the BSDs, in the order community-mesh setup guides use. IPIP uses
 * gif(4); GRE uses gre(4); GRE-in-UDP (fou) only exists on FreeBSD (`udpencap`); GUE nowhere.
 * Ethernet over GRE (gretap) is OpenBSD's egre(4); FreeBSD and NetBSD have none (their gif(4)
 * bridging is EtherIP, another protocol). The `tunnel` command takes IPv6 outer addresses alike.
 */
export function renderIfconfig(table: LinkTable, myName: string, options: IfconfigOptions): string[] {
  const view = perspectiveOf(table, myName);
  const remote = requireRemote(view);
  const { flavor } = options;
  if (table.encap === 'gue') {
    throw new TunnelError('ERR_TARGET_UNSUPPORTED', `${flavor} has no GUE support; run \`tunnel-hub peer pin ${myName} --encap gre\` (or ipip, fou) on the hub`);
  }
  if (table.encap === 'gretap' && flavor !== 'openbsd') refuseEncap(flavor, 'gretap (Ethernet over GRE)', view.theirs.name, myName);
  if (table.encap === 'fou' && flavor !== 'freebsd') {
    throw new TunnelError('ERR_TARGET_UNSUPPORTED', `${flavor} cannot carry GRE in UDP; only FreeBSD 13+ can (udpencap): run \`tunnel-hub peer pin ${myName} --encap gre\` on the hub`);
  }
  if (view.mine.public === null) {
    throw new TunnelError('ERR_STATE', `the public address of "${view.mine.name}" is not known yet; BSD tunnels need it`);
  }
  const dev = options.ifname ?? (table.encap === 'ipip' ? 'gif0' : table.encap === 'gretap' ? 'egre0' : 'gre0');
  if (!/^[a-z]+[0-9]+$/.test(dev)) {
    throw new TunnelError('ERR_INVALID_ARGUMENT', `interface name "${dev}" must look like gre0 or gif1`);
  }
  const lines: string[] = [];
  if (flavor === 'openbsd' && table.encap !== 'ipip') lines.push('sysctl net.inet.gre.allow=1');
  lines.push(`ifconfig ${dev} create`, `ifconfig ${dev} tunnel ${view.mine.public} ${remote}`);
  if (table.encap !== 'ipip' && table.key != null) {
    if (flavor === 'netbsd') refuseKey('netbsd gre(4)', view.theirs.name, myName);
    lines.push(flavor === 'freebsd' ? `ifconfig ${dev} grekey ${table.key}` : `ifconfig ${dev} vnetid ${table.key}`);
  }
  if (table.encap === 'fou') {
    lines.push(`ifconfig ${dev} udpencap udpport ${udpPortOf(table, DEFAULT_UDP_PORTS)}`);
  }
  // egre is an Ethernet interface: its /30 takes no destination address.
  const inet = table.encap === 'gretap'
    ? `ifconfig ${dev} inet ${view.mine.inner} netmask ${netmaskOf(view.prefixLength)}`
    : `ifconfig ${dev} inet ${view.mine.inner} ${view.theirs.inner} netmask ${netmaskOf(view.prefixLength)}`;
  lines.push(inet, `ifconfig ${dev} mtu ${table.mtu}`, `ifconfig ${dev} up`);
  return lines;
}
