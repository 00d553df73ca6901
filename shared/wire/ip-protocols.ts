/** IPv4 protocol / IPv6 next-header number of ICMP. */
export const IPPROTO_ICMP = 1;
/** IP protocol number of IPv4-in-IP (IPIP, RFC 2003). */
export const IPPROTO_IPIP = 4;
/** IP protocol number of TCP. */
export const IPPROTO_TCP = 6;
/** IP protocol number of UDP. */
export const IPPROTO_UDP = 17;
/** IP protocol number of IPv6-in-IPv4 (6in4 / sit). */
export const IPPROTO_IPV6 = 41;
/** IP protocol number of GRE. */
export const IPPROTO_GRE = 47;
/** IPv6 next-header number of ICMPv6. */
export const IPPROTO_ICMPV6 = 58;
