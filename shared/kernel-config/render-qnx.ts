import { TunnelError } from '../errors.js';
import { netmaskOf, perspectiveOf, refuseIpv6Path, requireRemote, type LinkTable } from './link-table.js';
import { refuseEncap, refuseKey } from './target-refusal.js';

/**
 * ifconfig commands for this end of a link on QNX (io-pkt-v4-hc or -v6-hc, whose gre(4) and
 * gif(4) come from NetBSD): create, tunnel (outer addresses), inet (inner addresses), as QNX's
 * "IP Tunneling (Generic Routing Encapsulation)" note lays it out. io-pkt's GRE sets no key and
 * has no FOU or GUE.
 */
export function renderQnx(table: LinkTable, myName: string, options: { ifname?: string } = {}): string[] {
  const view = perspectiveOf(table, myName);
  const remote = requireRemote(view);
  if (table.encap === 'fou' || table.encap === 'gue' || table.encap === 'gretap') refuseEncap('qnx', table.encap, view.theirs.name, myName);
  refuseIpv6Path('qnx', remote);
  if (table.encap === 'gre' && table.key != null) refuseKey('qnx', view.theirs.name, myName);
  if (view.mine.public === null) {
    throw new TunnelError('ERR_STATE', `the public address of "${myName}" is not known yet; QNX tunnels need it (report it first: \`ssh … endpoint\`)`);
  }
  const dev = options.ifname ?? (table.encap === 'ipip' ? 'gif0' : 'gre0');
  if (!/^[a-z]+[0-9]+$/.test(dev)) {
    throw new TunnelError('ERR_INVALID_ARGUMENT', `interface name "${dev}" must look like gre0 or gif1`);
  }
  return [
    `ifconfig ${dev} create`,
    `ifconfig ${dev} tunnel ${view.mine.public} ${remote}`,
    `ifconfig ${dev} inet ${view.mine.inner} ${view.theirs.inner} netmask ${netmaskOf(view.prefixLength)}`,
    `ifconfig ${dev} mtu ${table.mtu}`,
    `ifconfig ${dev} up`,
  ];
}
