import { networkInterfaces } from 'node:os';
import { isGlobalIpv6 } from '../../shared/net/global-ipv6.js';

/**
 * The hub's IPv6 endpoint when `serve` is not told one: with `--listen` on all addresses, the
 * first global unicast IPv6 address (2000::/3) of this host, else the listen address itself when
 * it is one; null when there is none. Unique local (fc00::/7) and link-local addresses are no
 * path across the Internet, so a hub with only those offers no IPv6 links.
 */
export function detectIpv6Endpoint(listen: string): string | null {
  if (listen !== '0.0.0.0' && listen !== '::') return isGlobalIpv6(listen) ? listen : null;
  for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? []) {
      if (address.family === 'IPv6' && !address.internal && isGlobalIpv6(address.address)) return address.address;
    }
  }
  return null;
}
