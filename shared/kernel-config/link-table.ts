import { TunnelError } from '../errors.js';

/** One end of a link as `tunnel-hub peer table --json` prints it. */
export interface LinkTableEnd {
  name: string;
  /** Outer (public) IPv4 or IPv6 address; null until the hub has seen it. */
  public: string | null;
  /** This end's address on the /30. */
  inner: string;
}

/** The reciprocal /30 table of one link, in docs/cli.md's JSON shape (`peer table --json`). */
export interface LinkTable {
  prefix: string;
  encap: 'gre' | 'ipip' | 'fou' | 'gue' | 'gretap';
  key?: number | null;
  mtu: number;
  /** UDP port of the fou/gue path; absent for gre/ipip. */
  port?: number | null;
  ends: LinkTableEnd[];
}

/** The table seen from one end: "My end" and "The other end", as community meshes exchange it. */
export interface LinkPerspective {
  mine: LinkTableEnd;
  theirs: LinkTableEnd;
  prefixLength: number;
}

/** Splits a table into this end and the other; refuses a name that is not an end of the link. */
export function perspectiveOf(table: LinkTable, myName: string): LinkPerspective {
  const mine = table.ends.find((end) => end.name === myName);
  const theirs = table.ends.find((end) => end.name !== myName);
  if (!mine || !theirs || table.ends.length !== 2) {
    throw new TunnelError('ERR_INVALID_ARGUMENT', `"${myName}" is not an end of link ${table.prefix}`);
  }
  const prefixLength = Number(table.prefix.split('/')[1]);
  if (!Number.isInteger(prefixLength) || prefixLength < 8 || prefixLength > 31) {
    throw new TunnelError('ERR_INVALID_CIDR', `link prefix ${table.prefix} is not a usable IPv4 prefix`);
  }
  return { mine, theirs, prefixLength };
}

/** The other end's public address, or a coded error: kernel tunnels cannot be aimed at nothing. */
export function requireRemote(view: LinkPerspective): string {
  if (view.theirs.public === null) {
    throw new TunnelError('ERR_STATE', `the public address of "${view.theirs.name}" is not known yet; render again after it connects`);
  }
  return view.theirs.public;
}

/** True when the link's outer path is IPv6 (the other end's public address is). */
export function isIpv6Path(remote: string): boolean {
  return remote.includes(':');
}

/**
 * Refuses an IPv6 outer path on a target whose rendering knows only IPv4 tunnels, naming the fix:
 * the member connects to the hub over IPv4, and its links run over IPv4.
 */
export function refuseIpv6Path(target: string, remote: string): void {
  if (isIpv6Path(remote)) {
    throw new TunnelError('ERR_TARGET_UNSUPPORTED', `${target} renders IPv4 outer paths only; connect this member to the hub over IPv4 (its links then run over IPv4)`);
  }
}

/** Dotted netmask for a prefix length (BSD ifconfig wants `netmask 255.255.255.252`). */
export function netmaskOf(prefixLength: number): string {
  const mask = prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
  return [24, 16, 8, 0].map((shift) => (mask >>> shift) & 0xff).join('.');
}

/** Default UDP port per encapsulation: RFC 8086's GRE-in-UDP port for fou, the datapath's for gue. */
export function udpPortOf(table: LinkTable, defaults: { fou: number; gue: number }): number {
  if (table.port) return table.port;
  return table.encap === 'gue' ? defaults.gue : defaults.fou;
}
