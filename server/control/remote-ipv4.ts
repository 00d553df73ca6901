import { TunnelError } from '../../shared/errors.js';
import { isIpv4Address } from '../../shared/net/ipv4-address.js';

/**
 * The IPv4 address a connection comes from, unwrapping IPv4-mapped IPv6 (`::ffff:a.b.c.d`). The
 * datapath is IPv4-only, so a connection over IPv6 cannot verify a tunnel endpoint: it is refused.
 */
export function remoteIpv4(address: string | undefined): string {
  const plain = address?.startsWith('::ffff:') ? address.slice(7) : address;
  if (plain === undefined || !isIpv4Address(plain)) {
    throw new TunnelError('ERR_INVALID_ADDRESS', `connection from ${address ?? 'an unknown address'} is not IPv4; connect to the hub over IPv4`);
  }
  return plain;
}
