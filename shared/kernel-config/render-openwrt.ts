import { TunnelError } from '../errors.js';
import { isIpv6Path, netmaskOf, perspectiveOf, requireRemote, type LinkTable } from './link-table.js';
import { refuseEncap } from './target-refusal.js';

/** Options for the OpenWrt rendering. */
export interface OpenwrtOptions {
  /**
   * The logical interface (UCI section) of the tunnel. netifd names the device `gre4-<name>` or
   * `ipip-<name>`, so at most 10 characters keep it inside Linux's 15.
   */
  section: string;
  /** The logical interface the tunnel rides on (`tunlink`), usually `wan`. */
  tunlink?: string;
}

/**
 * `uci batch` commands for this end of a link on OpenWrt: an interface with netifd's `gre`
 * (package gre) or `ipip` (package ipip) protocol, aimed at the other end, bound to the WAN with
 * `tunlink` so it follows a changing WAN address, with the GRE key as `ikey`/`okey`; and a
 * `static` interface on the tunnel device (`@section`) carrying this end's /30 address.
 * gretap is netifd's `gretap` (Ethernet over GRE); over an IPv6 path `grev6` and `grev6tap`.
 * FOU and GUE have no netifd protocol, nor IPIP over IPv6 in package ipip: a coded refusal names
 * `peer pin`.
 */
export function renderOpenwrt(table: LinkTable, myName: string, options: OpenwrtOptions): string[] {
  const view = perspectiveOf(table, myName);
  const remote = requireRemote(view);
  if (table.encap === 'fou' || table.encap === 'gue') refuseEncap('openwrt', table.encap, view.theirs.name, myName);
  const v6 = isIpv6Path(remote);
  if (v6 && table.encap === 'ipip') refuseEncap('openwrt', 'ipip over IPv6', view.theirs.name, myName);
  const proto = !v6 ? table.encap : table.encap === 'gretap' ? 'grev6tap' : 'grev6';
  const section = options.section;
  if (!/^[A-Za-z0-9_]{1,10}$/.test(section)) {
    throw new TunnelError('ERR_INVALID_ARGUMENT', `OpenWrt section "${section}" must be 1-10 letters, digits or '_'`);
  }
  const set = (option: string, value: string): string => `set network.${section}.${option}='${value}'`;
  const lines = [
    `set network.${section}=interface`,
    set('proto', proto),
    set(v6 ? 'peer6addr' : 'peeraddr', remote),
    set('tunlink', options.tunlink ?? 'wan'),
    set('ttl', '64'),
    set('mtu', String(table.mtu)),
  ];
  if ((table.encap === 'gre' || table.encap === 'gretap') && table.key != null) lines.push(set('ikey', String(table.key)), set('okey', String(table.key)));
  const addr = `${section}_addr`;
  lines.push(
    `set network.${addr}=interface`,
    `set network.${addr}.proto='static'`,
    `set network.${addr}.device='@${section}'`,
    `set network.${addr}.ipaddr='${view.mine.inner}'`,
    `set network.${addr}.netmask='${netmaskOf(view.prefixLength)}'`,
  );
  return lines;
}
