import { TunnelError } from '../errors.js';
import { perspectiveOf, refuseIpv6Path, requireRemote, type LinkTable } from './link-table.js';
import { refuseEncap, refuseKey } from './target-refusal.js';

/** Options for the RouterOS rendering. */
export interface RouterosOptions {
  /** Interface name, e.g. `tnl-hub`. */
  name: string;
  /** Keepalive as RouterOS writes it: interval and how many may go unanswered. */
  keepalive?: string;
}

/**
 * RouterOS 7 CLI for this end of a link: `/interface gre add` (or `/interface ipip add`) aimed at
 * the other end with keepalive, no local-address so it follows a changing WAN address, then
 * `/ip address add` for this end's /30 address. RouterOS GRE has no key (a keyless hub link
 * fixes that) and no FOU or GUE (a pin to gre or ipip does).
 */
export function renderRouteros(table: LinkTable, myName: string, options: RouterosOptions): string[] {
  const view = perspectiveOf(table, myName);
  const remote = requireRemote(view);
  if (table.encap === 'fou' || table.encap === 'gue' || table.encap === 'gretap') refuseEncap('routeros', table.encap, view.theirs.name, myName);
  refuseIpv6Path('routeros', remote);
  if (table.encap === 'gre' && table.key != null) refuseKey('routeros', view.theirs.name, myName);
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(options.name)) {
    throw new TunnelError('ERR_INVALID_ARGUMENT', `RouterOS interface name "${options.name}" must be 1-15 letters, digits, '_', '.' or '-'`);
  }
  const keepalive = options.keepalive ?? '10s,10';
  return [
    `/interface ${table.encap} add name=${options.name} remote-address=${remote} mtu=${table.mtu} keepalive=${keepalive} comment="tunnel-hub link ${table.prefix} to ${view.theirs.name}"`,
    `/ip address add address=${view.mine.inner}/${view.prefixLength} interface=${options.name}`,
  ];
}
