import { isIPv6 } from 'node:net';
import { TunnelError } from '../../shared/errors.js';
import { isIpv4Address } from '../../shared/net/ipv4-address.js';
import { canonicalOuterAddress } from '../../shared/datapath/outer-address.js';

/**
 * The address a connection comes from, as the hub verifies endpoints by it: IPv4 (unwrapping
 * IPv4-mapped IPv6, `::ffff:a.b.c.d`, from the dual-stack listener) or IPv6 in canonical form. A
 * link-local source (it names a link, not a host a tunnel can reach) is refused.
 */
export function remoteOuterAddress(address: string | undefined): string {
  const plain = address?.startsWith('::ffff:') ? address.slice(7) : address;
  if (plain !== undefined && isIpv4Address(plain)) return plain;
  if (plain !== undefined && isIPv6(plain) && !/^fe[89ab]/i.test(plain)) return canonicalOuterAddress(plain);
  throw new TunnelError('ERR_INVALID_ADDRESS', `connection from ${address ?? 'an unknown address'} is neither IPv4 nor a routable IPv6 address`);
}
