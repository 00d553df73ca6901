import { access, writeFile } from 'node:fs/promises';
import { TunnelError } from '../errors.js';
import type { Ipv6Forwarding } from './kernel-change.js';

/** Where the kernel's sysctls are; tests pass a stand-in tree. */
export const PROC_SYS = '/proc/sys';

/**
 * Turns forwarding on for packets arriving on interface `name`, through /proc/sys on the libuv
 * pool (the event loop runs on meanwhile): `net.ipv4.conf.NAME.forwarding`, then IPv6 as
 * enableIpv6ForwardingAsync does.
 */
export async function enableForwardingThroughSysctlAsync(name: string, sysctl = PROC_SYS): Promise<Ipv6Forwarding> {
  await writeOneAsync(`${sysctl}/net/ipv4/conf/${name}/forwarding`);
  return enableIpv6ForwardingAsync(name, sysctl);
}

/**
 * IPv6 forwarding for one interface, through the libuv pool: `net.ipv6.conf.NAME.force_forwarding`
 * (Linux 6.17+), else `net.ipv6.conf.all.forwarding` on an older kernel, or nothing on a kernel
 * without IPv6. (There is no rtnetlink setter for IPv6's
 * per-interface switches: the kernel's inet6_set_link_af takes only the token and the address
 * generation mode. The rtnetlink implementation has its batch write `force_forwarding`, and comes
 * here only on a kernel older than 6.17.)
 */
export async function enableIpv6ForwardingAsync(name: string, sysctl = PROC_SYS): Promise<Ipv6Forwarding> {
  if (!(await exists(`${sysctl}/net/ipv6`))) return 'no-ipv6';
  const perInterface = `${sysctl}/net/ipv6/conf/${name}/force_forwarding`;
  if (await exists(perInterface)) {
    await writeOneAsync(perInterface);
    return 'interface';
  }
  await writeOneAsync(`${sysctl}/net/ipv6/conf/all/forwarding`);
  return 'all-interfaces';
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

async function writeOneAsync(path: string): Promise<void> {
  try {
    await writeFile(path, '1\n');
  } catch (err) {
    throw forwardingError(path, err);
  }
}

function forwardingError(path: string, err: unknown): TunnelError {
  const code = (err as NodeJS.ErrnoException).code;
  return new TunnelError(code === 'EACCES' || code === 'EPERM' ? 'ERR_PERMISSION' : 'ERR_SYSTEM',
    `cannot turn forwarding on (${path}): ${(err as Error).message}`, { cause: err });
}
