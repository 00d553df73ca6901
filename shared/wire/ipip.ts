import { decodeError, isBadWindow, type DecodeError } from './decode-error.js';
import { decodeIpv4, type Ipv4Header } from './ipv4.js';

// The protocol numbers live in one place; re-exported here because IPIP is where callers look.
export { IPPROTO_GRE, IPPROTO_ICMP, IPPROTO_IPIP, IPPROTO_IPV6, IPPROTO_TCP, IPPROTO_UDP } from './ip-protocols.js';

/**
 * Decodes the payload of an outer packet with protocol 4 (IPIP, RFC 2003): it must be a whole
 * IPv4 packet. The inner header checksum is verified only when `verifyChecksum` is true (the
 * inner packet goes to a TUN whose kernel checks it anyway).
 */
export function decodeIpip(
  buf: Uint8Array,
  offset = 0,
  length: number = buf.length - offset,
  verifyChecksum = false,
): Ipv4Header | DecodeError {
  if (isBadWindow(buf, offset, length)) return decodeError('truncated', 'window outside buffer');
  if (length > 0 && buf[offset]! >>> 4 !== 4) {
    return decodeError('unsupported-protocol', 'IPIP payload is not IPv4');
  }
  return decodeIpv4(buf, offset, length, { verifyChecksum });
}
