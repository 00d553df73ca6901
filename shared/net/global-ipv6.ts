import ipaddr from 'ipaddr.js';

/**
 * True for a global unicast IPv6 address (2000::/3, RFC 4291 §2.4), the kind a path across the
 * Internet runs between; link-local, unique local, loopback, multicast and IPv4-mapped addresses
 * are not. Documentation addresses (2001:db8::/32) count, as test networks use them.
 */
export function isGlobalIpv6(text: string): boolean {
  if (typeof text !== 'string' || text.includes('%') || !ipaddr.IPv6.isValid(text)) return false;
  return (ipaddr.IPv6.parse(text).parts[0]! & 0xe000) === 0x2000;
}
