import { existsSync, writeFileSync } from 'node:fs';
import { TunnelError } from '../../shared/errors.js';

/** How IPv6 forwarding was turned on for a tunnel (`no-ipv6`: the kernel runs without IPv6). */
export type Ipv6Forwarding = 'interface' | 'all-interfaces' | 'no-ipv6';

/**
 * Lets the kernel forward packets arriving on one of the hub's tunnel interfaces (IPv4 and IPv6),
 * per interface, so the hub routes between its members without becoming a router for its other
 * interfaces: `net.ipv4.conf.IF.forwarding` and, since Linux 6.17, `net.ipv6.conf.IF.force_forwarding`.
 * An older kernel has no per-interface switch for IPv6; there `net.ipv6.conf.all.forwarding` is
 * set (which also stops router advertisements being accepted on interfaces left at accept_ra=1),
 * and the answer says so for the log.
 */
export function enableTunnelForwarding(name: string, sysctl = '/proc/sys'): Ipv6Forwarding {
  write(`${sysctl}/net/ipv4/conf/${name}/forwarding`);
  if (!existsSync(`${sysctl}/net/ipv6`)) return 'no-ipv6';
  const perInterface = `${sysctl}/net/ipv6/conf/${name}/force_forwarding`;
  if (existsSync(perInterface)) {
    write(perInterface);
    return 'interface';
  }
  write(`${sysctl}/net/ipv6/conf/all/forwarding`);
  return 'all-interfaces';
}

function write(path: string): void {
  try {
    writeFileSync(path, '1\n');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new TunnelError(code === 'EACCES' || code === 'EPERM' ? 'ERR_PERMISSION' : 'ERR_SYSTEM',
      `cannot turn forwarding on (${path}): ${(err as Error).message}`, { cause: err });
  }
}
