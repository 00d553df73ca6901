import { execFileSync } from 'node:child_process';

/** `ip -j ARGS`'s records (none: an empty list), of the shape the caller reads. */
export function ipJson<T = unknown>(...args: string[]): T[] {
  return JSON.parse(execFileSync('ip', ['-j', ...args], { encoding: 'utf8' }) || '[]') as T[];
}

/** A link as `ip -j -d link show` gives it (the fields tests read; group and ifalias need -d). */
export interface IpLink {
  ifname: string;
  mtu: number;
  address: string;
  flags: string[];
  group?: string;
  ifalias?: string;
}

/** An interface's addresses as `ip -j addr show` gives them. */
export interface IpAddresses {
  addr_info: { scope: string; local: string; address?: string; prefixlen: number; nodad?: boolean }[];
}

/** A route as `ip -j route show` gives it. */
export interface IpRoute {
  type?: string;
  dst: string;
  dev?: string;
  metric?: number;
  scope?: string;
  protocol?: string;
}
