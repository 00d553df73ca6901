import { existsSync, writeFileSync } from 'node:fs';
import { TunnelError } from '../errors.js';
import type { Ipv6Forwarding } from './kernel-change.js';

/** Where the kernel's sysctls are; tests pass a stand-in tree. */
export const PROC_SYS = '/proc/sys';

/**
 * Turns forwarding on for packets arriving on interface `name`, through /proc/sys:
 * `net.ipv4.conf.NAME.forwarding`, then IPv6 as enableIpv6Forwarding does.
 */
export function enableForwardingThroughSysctl(name: string, sysctl = PROC_SYS): Ipv6Forwarding {
  writeOne(`${sysctl}/net/ipv4/conf/${name}/forwarding`);
  return enableIpv6Forwarding(name, sysctl);
}

/**
 * IPv6 forwarding for one interface: `net.ipv6.conf.NAME.force_forwarding` (Linux 6.17+; netlink
 * has no setter for it), else `net.ipv6.conf.all.forwarding` on an older kernel, or nothing on a
 * kernel without IPv6.
 */
export function enableIpv6Forwarding(name: string, sysctl = PROC_SYS): Ipv6Forwarding {
  if (!existsSync(`${sysctl}/net/ipv6`)) return 'no-ipv6';
  const perInterface = `${sysctl}/net/ipv6/conf/${name}/force_forwarding`;
  if (existsSync(perInterface)) {
    writeOne(perInterface);
    return 'interface';
  }
  writeOne(`${sysctl}/net/ipv6/conf/all/forwarding`);
  return 'all-interfaces';
}

function writeOne(path: string): void {
  try {
    writeFileSync(path, '1\n');
  } catch (err) {
    throw forwardingError(path, err);
  }
}

function forwardingError(path: string, err: unknown): TunnelError {
  const code = (err as NodeJS.ErrnoException).code;
  return new TunnelError(code === 'EACCES' || code === 'EPERM' ? 'ERR_PERMISSION' : 'ERR_SYSTEM',
    `cannot turn forwarding on (${path}): ${(err as Error).message}`, { cause: err });
}
