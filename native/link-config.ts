/**
 * Interface configuration through iproute2's `ip`, run with execFileSync and an argument array
 * (never a shell string). Why `ip` rather than netlink/ioctl in the addon: configuration happens a
 * few times per tunnel lifetime, so a ~2-5 ms process spawn is irrelevant, while `ip` gives the
 * exact kernel semantics users know from the seeds (peer addresses with a prefix, IPv6, routes)
 * without a netlink encoder to maintain in C++. Synchronous on purpose: the datapath applies
 * steps in order and gets each error at the step that failed.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { isIPv4, isIPv6 } from 'node:net';
import { NativeError } from './native-error.js';
import { assertInterfaceName } from './interface-name.js';

/** Smallest MTU IPv4 allows (RFC 791) and the largest the kernel takes. */
export const MIN_MTU = 68;
export const MAX_MTU = 65535;

const IP_TIMEOUT_MS = 10_000;

/** Sets the interface MTU. */
export function setLinkMtu(name: string, mtu: number): void {
  assertInterfaceName(name);
  if (!Number.isInteger(mtu) || mtu < MIN_MTU || mtu > MAX_MTU) {
    throw new NativeError('ERR_INVALID_ARGUMENT', `MTU must be an integer from ${MIN_MTU} to ${MAX_MTU}, got ${mtu}`);
  }
  runIp(['link', 'set', 'dev', name, 'mtu', String(mtu)]);
}

/** Sets an Ethernet device's MAC address (a TAP's, before it goes up). */
export function setLinkAddress(name: string, mac: string): void {
  assertInterfaceName(name);
  if (typeof mac !== 'string' || !/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(mac)) {
    throw new NativeError('ERR_INVALID_ARGUMENT', `MAC address ${JSON.stringify(mac)} must be six lower-case hex pairs with colons`);
  }
  runIp(['link', 'set', 'dev', name, 'address', mac]);
}

/** Brings the interface up or down. */
export function setLinkUp(name: string, up: boolean): void {
  assertInterfaceName(name);
  runIp(['link', 'set', 'dev', name, up ? 'up' : 'down']);
}

/**
 * Adds an address (already present is not an error). IPv4: `cidr` is local/prefix; with `peer`
 * the prefix belongs to the peer, as `ip addr add LOCAL peer PEER/PREFIX` (a point-to-point
 * /30 as community meshes number them). IPv6: `cidr` is address/prefix, added without duplicate detection so it
 * is usable at once on a tunnel that has no neighbours to collide with.
 */
export function addAddress(name: string, cidr: string, peer?: string): void {
  assertInterfaceName(name);
  const { address, prefix, family } = parseCidr(cidr);
  if (family === 6) {
    if (peer !== undefined) throw new NativeError('ERR_INVALID_ARGUMENT', 'a peer address is only supported with IPv4');
    runIp(['-6', 'addr', 'replace', `${address}/${prefix}`, 'dev', name, 'nodad']);
    return;
  }
  if (peer === undefined) {
    runIp(['-4', 'addr', 'replace', `${address}/${prefix}`, 'dev', name]);
    return;
  }
  if (!isIPv4(peer)) throw new NativeError('ERR_INVALID_ADDRESS', `peer ${JSON.stringify(peer)} is not an IPv4 address`);
  runIp(['-4', 'addr', 'replace', address, 'peer', `${peer}/${prefix}`, 'dev', name]);
}

/** Routes `destinationCidr` (IPv4 or IPv6) through the interface (replacing an existing route). */
export function addRoute(destinationCidr: string, name: string): void {
  assertInterfaceName(name);
  const { address, prefix, family } = parseCidr(destinationCidr);
  runIp([`-${family}`, 'route', 'replace', `${address}/${prefix}`, 'dev', name]);
}

/** Deletes an interface (a TUN device also disappears by itself when its descriptor closes). */
export function deleteLink(name: string): void {
  assertInterfaceName(name);
  runIp(['link', 'del', 'dev', name]);
}

function parseCidr(cidr: string): { address: string; prefix: number; family: 4 | 6 } {
  const match = typeof cidr === 'string' ? /^([^/]+)\/(\d{1,3})$/.exec(cidr) : null;
  const address = match?.[1] ?? '';
  const prefix = Number(match?.[2]);
  if (isIPv4(address) && prefix <= 32) return { address, prefix, family: 4 };
  if (isIPv6(address) && prefix <= 128) return { address, prefix, family: 6 };
  throw new NativeError('ERR_INVALID_CIDR', `${JSON.stringify(cidr)} is not an IPv4 or IPv6 prefix (e.g. 10.1.12.38/30)`);
}

/**
 * Where `ip` is: the PATH first, then the sbin folders, which a non-root user's PATH often lacks
 * (a service user holding CAP_NET_ADMIN runs it as well as root does).
 */
const IP_COMMAND = (process.env.PATH ?? '').split(':').some((dir) => dir !== '' && existsSync(join(dir, 'ip')))
  ? 'ip'
  : ['/usr/sbin/ip', '/sbin/ip'].find((path) => existsSync(path)) ?? 'ip';

/**
 * Runs many `ip` commands (lines such as `route replace 10.50.2.0/24 dev tnl-hub metric 1000`) in
 * one process, `ip -force -batch -`: a whole route table costs one spawn. Every line is tried;
 * unless `tolerateFailures` (deleting routes that may have gone with their device), a failure
 * throws like the single commands do.
 */
export function runIpBatch(lines: readonly string[], options: { tolerateFailures?: boolean } = {}): void {
  if (lines.length === 0) return;
  try {
    execFileSync(IP_COMMAND, ['-force', '-batch', '-'], { input: `${lines.join('\n')}\n`, stdio: ['pipe', 'ignore', 'pipe'], timeout: IP_TIMEOUT_MS });
  } catch (err) {
    if (options.tolerateFailures && (err as { code?: unknown }).code !== 'ENOENT') return;
    throw ipError(err, `ip -batch (${lines.length} commands, first: ${lines[0]})`);
  }
}

function runIp(args: string[]): void {
  try {
    execFileSync(IP_COMMAND, args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: IP_TIMEOUT_MS });
  } catch (err) {
    throw ipError(err, `ip ${args.join(' ')}`);
  }
}

function ipError(err: unknown, command: string): NativeError {
  const fields = err as { code?: unknown; stderr?: Buffer };
  if (fields.code === 'ENOENT') {
    return new NativeError('ERR_SYSTEM', `${command}: iproute2 is not installed`, { cause: err });
  }
  const reason = fields.stderr?.toString('utf8').trim().split('\n')[0] || (err as Error).message;
  if (/Operation not permitted|Permission denied/.test(reason)) {
    return new NativeError('ERR_PERMISSION', `${command}: needs root or CAP_NET_ADMIN (${reason})`, { cause: err });
  }
  return new NativeError('ERR_SYSTEM', `${command}: ${reason}`, { cause: err });
}
